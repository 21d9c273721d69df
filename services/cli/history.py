"""What the audit's checks of the past need, folded from each record once (pure, no I/O).

The operators' read model keeps it (`services.console.view.View.history`), so the audit judges every
record the read model ever folded, also after retention or an erasure's cut deleted it from its topic.
An application, a volunteer, a key or an event id is kept as a digest (16 bytes of BLAKE2b), never in
clear; an erased volunteer's entries go with their erasure (`forget`), so no guessed id of theirs finds
anything of them. Opening and placement ids are kept: they name no one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

import msgspec

from services.cli.deadletters import as_dead_letter
from services.cli.reading import EPOCH, Seen, copy_identity, digest, position_key
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC, not_the_host, writer_of
from shared.contracts.partners import partner_named, topic_of
from shared.contracts.reasons import REASON_CODES, stated_reasons
from shared.contracts.topics import INTAKES, TOPICS, Topic

# Outcomes that must happen at most once per application (distinct event ids), and the topic of each.
OUTCOMES: dict[str, str] = {
    **dict.fromkeys(("ApplicationReceived", "ApplicationRejected"), Topic.APPLICATION_EVENTS),
    **dict.fromkeys(("VettingCleared", "VettingRefused"), Topic.VETTING_EVENTS),
    **dict.fromkeys(("PlacementConfirmed", "PlacementClosed"), Topic.PLACEMENT_EVENTS),
    **dict.fromkeys(
        ("ContractSigned", "VolunteerDeparted", "ArrivalConfirmed", "MissionEnded", "VolunteerReturned",
         "MissionClosed"),
        Topic.DEPARTURE_EVENTS,
    ),
}  # fmt: skip
MADE = tuple(topic for topic in TOPICS if topic not in INTAKES)  # the topics Envol writes
EXAMPLES = 5  # examples a failing check keeps
DEAD_LETTER_HEADERS = frozenset({"origin-topic", "origin-offset", "error-class", "error-reason"})
Micros = int  # microseconds since the epoch
Moment = tuple[Micros, str, int, int]  # when a record was logged, then its topic, partition and offset


class Published(msgspec.Struct, frozen=True, array_like=True):
    """An opening as its host published it: what the console shows of it, and its seats."""

    opening_id: str
    seats: int
    mission: str
    host: str
    country: str
    scheme: str


class Proposal(msgspec.Struct, frozen=True, array_like=True):
    """A seat a proposal reserved: its opening, its placement, its volunteer (a digest; once they are
    erased, a token that names no one) and when."""

    opening: str
    placement: str
    volunteer: bytes
    at: Moment


class History(msgspec.Struct, dict=True):
    """The past as the audit needs it. `record` folds every record, `event` the first copy of each event
    (its reader's `View` skips the copies; `of` does it for a list).

    Its indexes (`holding`, and where each placement and volunteer is among the proposals) are derived
    from its fields, kept beside them but not saved: built on first use after a restore."""

    records: int = 0
    next_offsets: dict[str, int] = msgspec.field(default_factory=dict)  # partition: next offset expected
    clocks: dict[str, Micros] = msgspec.field(default_factory=dict)  # partition: its latest time so far
    missed: int = 0  # records deleted before they were folded (retention, an erasure's cut)
    since: Micros | None = None  # the oldest record folded of a topic Envol writes
    outcomes: dict[bytes, int] = msgspec.field(default_factory=dict)  # (application, kind): events
    outcome_count: int = 0
    duplicates: int = 0  # outcomes that happened a second time (counted when they did: erasure keeps it)
    duplicated: list[tuple[bytes, str]] = msgspec.field(default_factory=list)  # (application, example)
    latest: dict[bytes, tuple[Micros, str]] = msgspec.field(default_factory=dict)  # (topic, key,
    # aggregate): when its latest event was made, and its type
    disorder: int = 0
    disordered: list[str] = msgspec.field(default_factory=list)  # topics and event types, no ids
    logged: dict[bytes, Micros | None] = msgspec.field(default_factory=dict)  # event: when (None: an
    # outsider's fact, logged by its sender's clock, so not judged)
    effects: dict[bytes, list[Micros]] = msgspec.field(default_factory=dict)  # cause not folded yet
    before_cause: int = 0
    registered: dict[str, Published] = msgspec.field(default_factory=dict)  # opening: the publication
    # placement registered
    published: dict[bytes, Published] = msgspec.field(default_factory=dict)  # (event, opening): not
    # registered yet
    registering: dict[bytes, str] = msgspec.field(default_factory=dict)  # (cause, opening) of a
    # registration whose publication is not folded yet: its opening
    proposals: list[Proposal] = msgspec.field(default_factory=list)
    releases: dict[str, list[Moment]] = msgspec.field(default_factory=dict)  # placement: seat given back
    placements_of: dict[bytes, list[str]] = msgspec.field(default_factory=dict)  # application: placements
    erased: int = 0  # volunteers placement erased (their proposals keep a token of their own)
    reasons: int = 0
    free_reasons: dict[str, int] = msgspec.field(default_factory=dict)  # event type: reasons not a code
    letters: int = 0
    letter_origins: set[bytes] = msgspec.field(default_factory=set)  # a letter written again counts once
    unexplained: int = 0
    stated: dict[str, set[bytes]] = msgspec.field(default_factory=dict)  # a partner's topic: its facts

    @property
    def seats(self) -> dict[str, int]:
        """The seats of each opening registered (as its registered publication states)."""
        return {opening: published.seats for opening, published in self.registered.items()}

    @classmethod
    def of(cls, seen: Iterable[Seen]) -> History:
        """The history of records read in their partitions' order, each event's copies skipped."""
        history, folded = cls(), set()
        for item in seen:
            history.record(item)
            if item.event is not None and (identity := copy_identity(item)) not in folded:
                folded.add(identity)
                history.event(item)
        return history

    @classmethod
    def begun_at(
        cls, positions: Mapping[str, int], held: Mapping[str, Iterable[str]] | None = None
    ) -> History:
        """A history begun where a read model stood (`position_key` by contract topic) when it started to
        keep one: the records it had folded before are not audited, and the seats it saw `held` (opening:
        placements) count as reserved before anything it reads."""
        before: Moment = (0, "", 0, 0)
        seats = [
            (opening, placement) for opening, theirs in (held or {}).items() for placement in sorted(theirs)
        ]
        proposals = [Proposal(o, p, f"before {n}".encode(), before) for n, (o, p) in enumerate(seats)]
        return cls(next_offsets=dict(positions), missed=sum(positions.values()), proposals=proposals)

    @property
    def holding(self) -> dict[str, set[str]]:
        """Each opening's placements holding its seats now: reserved and not given back after, whatever
        order the records were read in."""
        return self._indexes()[0]

    def _indexes(self) -> tuple[dict[str, set[str]], dict[str, tuple[str, Moment]], dict[bytes, list[int]]]:
        """`holding`; each placement's opening and time of reservation; each volunteer's proposals."""
        if "_holding" not in self.__dict__:
            holding: dict[str, set[str]] = {}
            for proposal, released in self.held():
                if released is None:
                    holding.setdefault(proposal.opening, set()).add(proposal.placement)
            by_volunteer: dict[bytes, list[int]] = {}
            for n, p in enumerate(self.proposals):
                by_volunteer.setdefault(p.volunteer, []).append(n)
            self._holding = holding
            self._reserved = {p.placement: (p.opening, p.at) for p in self.proposals}
            self._by_volunteer = by_volunteer
        return self._holding, self._reserved, self._by_volunteer

    def record(self, seen: Seen) -> None:
        """Fold what any record tells: where its partition stands, and a dead letter's explanation."""
        self.records += 1
        partition = position_key(seen.topic, seen.partition)
        self.missed += max(0, seen.offset - self.next_offsets.get(partition, 0))
        self.next_offsets[partition] = max(self.next_offsets.get(partition, 0), seen.offset + 1)
        if seen.topic not in INTAKES:  # an outsider's timestamps on the intake topics are theirs to set
            at = micros(seen.timestamp)
            self.since = at if self.since is None else min(self.since, at)
        if seen.topic == Topic.DEAD_LETTER:
            record = seen.record
            letter = as_dead_letter(
                seen.partition, seen.offset, record.key, record.value, record.headers or ()
            )
            if not {name for name, value in letter.headers.items() if value} >= DEAD_LETTER_HEADERS:
                self.unexplained += 1
                self.letters += 1
                return
            origin = digest(letter.origin_topic, letter.origin_position)
            self.letters += origin not in self.letter_origins  # an erasure writes those below a cut again
            self.letter_origins.add(origin)

    def unread(self, starts: Mapping[str, int]) -> int:
        """The records deleted before they were folded: those `missed` between records folded, and those
        below each partition's first offset still held (`starts`) that were never folded, even where the
        deletion emptied the partition."""
        return self.missed + sum(max(0, start - self.next_offsets.get(p, 0)) for p, start in starts.items())

    def event(self, seen: Seen) -> None:
        """Fold the first copy of an event."""
        event = seen.event
        assert event is not None
        at: Moment = (self._clock(seen), str(seen.topic), seen.partition, seen.offset)
        self._outcome(event)
        outsiders = seen.topic in INTAKES
        if not outsiders:  # the order promised is that of what Envol makes
            self._order(seen, event, at[0])
        self._logged(event, None if outsiders else at[0])
        self._seats(seen, event, at)
        for reason in stated_reasons(event):
            self.reasons += 1
            if reason not in REASON_CODES:
                self.free_reasons[event.event_type] = self.free_reasons.get(event.event_type, 0) + 1
        intake = INTAKE_OF_TOPIC.get(seen.topic)
        partner = partner_named(str(intake.source)) if intake is not None else None
        if partner is not None:
            self.stated.setdefault(topic_of(partner), set()).add(digest(event.event_id))
        if event.event_type == "ErasureCompleted" and not outsiders:
            self.forget(seen.topic, event.application_id, event.subject_id)  # type: ignore[attr-defined]

    def _clock(self, seen: Seen) -> Micros:
        """When a record was logged, never before the one before it in its partition (a producer's clock
        may step back: its records' order is the partition's)."""
        partition = position_key(seen.topic, seen.partition)
        at = max(micros(seen.timestamp), self.clocks.get(partition, 0))
        self.clocks[partition] = at
        return at

    def forget(self, topic: str, application: str, volunteer: str) -> None:
        """Drop what is kept about an erased application and its volunteer from what `topic` said of them,
        as the service writing it tells their erasure (which comes last on it for them). The violations
        found stay counted; their seats stay counted under a token that names no one, once placement's
        erasure gave them back."""
        erased = digest(application)
        for kind, where in OUTCOMES.items():
            if where == topic:
                self.outcomes.pop(digest(application, kind), None)
        self.duplicated = [(who, example) for who, example in self.duplicated if who != erased]
        for aggregate in (application, ""):  # its events; the refusals of facts about no application
            self.latest.pop(digest(topic, volunteer, aggregate), None)
        if topic != Topic.PLACEMENT_EVENTS:
            return
        self.placements_of.pop(erased, None)  # placement's erasure gave their seats back
        by_volunteer = self._indexes()[2]
        theirs = by_volunteer.pop(digest(volunteer), [])
        if theirs:
            self.erased += 1
            token = f"erased {self.erased}".encode()  # all their proposals, from every application
            for n in theirs:
                self.proposals[n] = msgspec.structs.replace(self.proposals[n], volunteer=token)
            by_volunteer[token] = theirs

    def _outcome(self, event: Event) -> None:
        if event.event_type not in OUTCOMES:
            return
        application = getattr(event, "application_id", "")
        key = digest(application, event.event_type)
        self.outcomes[key] = self.outcomes.get(key, 0) + 1
        self.outcome_count += 1
        if self.outcomes[key] == 2:
            self.duplicates += 1
            if len(self.duplicated) < EXAMPLES:
                self.duplicated.append((digest(application), f"{application} {event.event_type}"))

    def _order(self, seen: Seen, event: Event, at: Micros) -> None:
        """Per topic, key and aggregate, events come in the order they were made; and after their cause."""
        key = digest(seen.topic, (seen.record.key or b"").decode(errors="replace"), aggregate_of(event))
        made = micros(event.occurred_at)
        before, kind = self.latest.get(key, (made, ""))
        if made < before:
            self.disorder += 1
            if len(self.disordered) < EXAMPLES:
                self.disordered.append(f"{seen.topic}: {event.event_type} after {kind}")
        self.latest[key] = (made, event.event_type)
        cause = digest(event.causation_id) if event.causation_id else None
        if cause is None:
            return
        if cause in self.logged:
            logged = self.logged[cause]
            self.before_cause += logged is not None and at < logged
        else:
            self.effects.setdefault(cause, []).append(at)

    def _logged(self, event: Event, at: Micros | None) -> None:
        """Note when an event was logged (None: not judged) and judge the effects folded before it."""
        key = digest(event.event_id)
        if key in self.logged:
            return  # the same id on another topic (a partner's copy of an update): its first time counts
        self.logged[key] = at
        effects = self.effects.pop(key, ())
        if at is not None:
            self.before_cause += sum(1 for effect in effects if effect < at)

    def _seats(self, seen: Seen, event: Event, at: Moment) -> None:
        """Note each opening as placement registered it (the publication its `OpeningRegistered` names, sent
        by a writer that may speak for the host), and each seat reserved and given back, whatever order the
        topics are read in: the reservations per opening and per volunteer are counted over time when
        checked (`peaks`, `two_at_once`)."""
        kind = event.event_type
        if kind == "OpeningPublished":
            o = event.opening  # type: ignore[attr-defined]
            if not_the_host(writer_of(seen.topic) or "", o.host_organisation) is not None:
                return  # placement refuses it: it is not the host's
            published = Published(
                o.opening_id, int(o.seats), o.mission, o.host_organisation, str(o.country), str(o.scheme)
            )
            publication = digest(event.event_id, o.opening_id)
            if self.registering.pop(publication, None) is not None:
                self.registered[o.opening_id] = published
            else:
                self.published[publication] = published
        elif kind == "OpeningRegistered" and event.causation_id:
            opening_id: str = event.opening_id  # type: ignore[attr-defined]
            cause = digest(event.causation_id, opening_id)
            if cause in self.published:
                self.registered[opening_id] = self.published.pop(cause)
            else:
                self.registering[cause] = opening_id
        elif kind == "PlacementProposed":
            placement: str = event.placement_id  # type: ignore[attr-defined]
            proposal = Proposal(event.opening_id, placement, digest(event.subject_id), at)  # type: ignore[attr-defined]
            holding, reserved, by_volunteer = self._indexes()
            by_volunteer.setdefault(proposal.volunteer, []).append(len(self.proposals))
            self.proposals.append(proposal)
            reserved[placement] = (proposal.opening, at)
            if not any(r > at for r in self.releases.get(placement, ())):
                holding.setdefault(proposal.opening, set()).add(placement)
            self.placements_of.setdefault(digest(event.application_id), []).append(placement)  # type: ignore[attr-defined]
        elif kind in ("PlacementCancelled", "MissionEnded"):  # a mission's end gives its seat back
            self._release(event.placement_id, at)  # type: ignore[attr-defined]
        elif kind == "ErasureCompleted" and seen.topic == Topic.PLACEMENT_EVENTS:  # it gave back their seats
            for placement in self.placements_of.get(digest(event.application_id), []):  # type: ignore[attr-defined]
                self._release(placement, at)

    def _release(self, placement: str, at: Moment) -> None:
        self.releases.setdefault(placement, []).append(at)
        holding, reserved, _ = self._indexes()
        opening, reserved_at = reserved.get(placement, ("", at))
        if reserved_at < at:
            holding.get(opening, set()).discard(placement)

    def held(self) -> list[tuple[Proposal, Moment | None]]:
        """Every reservation and when its seat was given back (None: it is still held): the first release
        of its placement logged after it."""
        return [
            (p, min((r for r in self.releases.get(p.placement, ()) if r > p.at), default=None))
            for p in self.proposals
        ]

    def peaks(self) -> dict[str, int]:
        """The most seats of each opening reserved at once."""
        return {opening: most_at_once(spans) for opening, spans in self._spans(lambda p: p.opening).items()}

    def two_at_once(self) -> int:
        """How many reservations were made while their volunteer held another."""
        spans = self._spans(lambda p: p.volunteer.hex())
        return sum(most_at_once(theirs, overlaps=True) for theirs in spans.values())

    def _spans(self, by: Callable[[Proposal], str]) -> dict[str, list[tuple[Moment, Moment | None]]]:
        spans: dict[str, list[tuple[Moment, Moment | None]]] = {}
        for proposal, released in self.held():
            spans.setdefault(by(proposal), []).append((proposal.at, released))
        return spans


def most_at_once(spans: Iterable[tuple[Moment, Moment | None]], overlaps: bool = False) -> int:
    """The most spans open at once, in the order their records were logged; or, with `overlaps`, how many
    opened while another was open. At one instant (Kafka's times are milliseconds), the ends of spans
    begun before it come first (records of different partitions have no order between them: the count is
    a lower bound), then the records of that instant in their partitions' order."""
    moves = [((start[0], 1, *start[1:]), 1) for start, _ in spans]
    moves += [((end[0], int(end[0] == start[0]), *end[1:]), -1) for start, end in spans if end is not None]
    open_, most, opened_over = 0, 0, 0
    for _, move in sorted(moves):
        opened_over += move > 0 and open_ > 0
        open_ += move
        most = max(most, open_)
    return opened_over if overlaps else most


def aggregate_of(event: Event) -> str:
    """The aggregate an event is about: its application; else, for a partner's message, its volunteer (a
    shortlist entry is its applicant's, keyed by the opening beside the other applicants'); else its
    opening (else none known)."""
    return str(
        getattr(event, "application_id", None)
        or getattr(event, "volunteer_ref", None)
        or getattr(event, "opening_id", "")
    )


def micros(at: dt.datetime) -> Micros:
    return (at - EPOCH) // dt.timedelta(microseconds=1)
