"""What the audit's checks of the past need, folded from each record once (pure, no I/O).

The operators' read model keeps it (`services.console.view.View.history`), so the audit judges every
record the read model ever folded, also after retention or an erasure's cut deleted it from its topic. It
keeps no personal value: an application, a volunteer or a key is kept as a digest (a failing check keeps
a few examples in clear, for the operator who reads it), event ids are the producers' random ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import typing
from collections.abc import Callable, Iterable

import msgspec

from services.cli.reading import EPOCH, Seen, position_key
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC
from shared.contracts.partner import PartnerEvent
from shared.contracts.partners import partner_named, topic_of
from shared.contracts.reasons import REASON_CODES, stated_reasons
from shared.contracts.topics import INTAKES, Topic

# Outcomes that must happen at most once per application (distinct event ids).
OUTCOMES = frozenset({
    "ApplicationReceived", "ApplicationRejected", "VettingCleared", "VettingRefused", "PlacementConfirmed",
    "PlacementClosed", "ContractSigned", "VolunteerDeparted", "ArrivalConfirmed", "MissionEnded",
    "VolunteerReturned", "MissionClosed",
})  # fmt: skip
PARTNER_EVENTS = frozenset(kind.__name__ for kind in typing.get_args(PartnerEvent))
EXAMPLES = 5  # examples a failing check keeps
DEAD_LETTER_HEADERS = frozenset({"origin-topic", "origin-offset", "error-class", "error-reason"})
Micros = int  # microseconds since the epoch


class Proposal(msgspec.Struct, frozen=True, array_like=True):
    """A seat a proposal reserved: its opening, its placement, its volunteer (a digest) and when."""

    opening: str
    placement: str
    volunteer: bytes
    at: Micros


class History(msgspec.Struct):
    """The past as the audit needs it. `record` folds every record, `event` the first copy of each event
    (its reader's `View` skips the copies; `of` does it for a list)."""

    records: int = 0
    next_offsets: dict[str, int] = msgspec.field(default_factory=dict)  # partition: next offset expected
    missed: int = 0  # records deleted before they were folded (retention, an erasure's cut)
    since: Micros | None = None  # the oldest record folded of a topic Envol writes
    outcomes: dict[bytes, int] = msgspec.field(default_factory=dict)  # (application, kind): events
    duplicated: list[str] = msgspec.field(default_factory=list)
    latest: dict[bytes, tuple[Micros, str]] = msgspec.field(default_factory=dict)  # (topic, key,
    # aggregate): when its latest event was made, and its type
    disorder: int = 0
    disordered: list[str] = msgspec.field(default_factory=list)
    logged: dict[str, Micros] = msgspec.field(default_factory=dict)  # event id: its first copy's time
    effects: dict[str, list[Micros]] = msgspec.field(default_factory=dict)  # cause not folded yet: effects
    before_cause: int = 0
    seats: dict[str, int] = msgspec.field(default_factory=dict)  # opening: its seats
    proposals: list[Proposal] = msgspec.field(default_factory=list)
    releases: dict[str, list[Micros]] = msgspec.field(default_factory=dict)  # placement: seat given back
    placements_of: dict[bytes, list[str]] = msgspec.field(default_factory=dict)  # application: placements
    reasons: int = 0
    free_reasons: dict[str, int] = msgspec.field(default_factory=dict)  # event type: reasons not a code
    letters: int = 0
    unexplained: int = 0
    stated: dict[str, set[str]] = msgspec.field(default_factory=dict)  # a partner's topic: its facts' ids
    correlations: set[str] = msgspec.field(default_factory=set)

    @classmethod
    def of(cls, seen: Iterable[Seen]) -> History:
        """The history of records read in their partitions' order, each event's copies skipped."""
        history, folded = cls(), set()
        for item in seen:
            history.record(item)
            if item.event is not None and (identity := f"{item.topic}|{item.event.identity}") not in folded:
                folded.add(identity)
                history.event(item)
        return history

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
            self.letters += 1
            named = {name for name, value in (seen.record.headers or ()) if value}
            self.unexplained += not named >= DEAD_LETTER_HEADERS

    def unread(self, starts: dict[str, int]) -> int:
        """The records deleted before they were folded: those `missed` between records folded, and those
        below each partition's first offset still held (`starts`) that were never folded, even where the
        deletion emptied the partition."""
        return self.missed + sum(max(0, start - self.next_offsets.get(p, 0)) for p, start in starts.items())

    def event(self, seen: Seen) -> None:
        """Fold the first copy of an event."""
        event = seen.event
        assert event is not None
        at = micros(seen.timestamp)
        self._outcome(event)
        if seen.topic not in INTAKES:  # the order promised is that of what Envol makes
            self._order(seen, event, at)
        self._logged(event, at)
        self._seats(event, at)
        for reason in stated_reasons(event):
            self.reasons += 1
            if reason not in REASON_CODES:
                self.free_reasons[event.event_type] = self.free_reasons.get(event.event_type, 0) + 1
        intake = INTAKE_OF_TOPIC.get(seen.topic)
        partner = partner_named(str(intake.source)) if intake is not None else None
        if partner is not None:
            self.stated.setdefault(topic_of(partner), set()).add(event.event_id)
        if event.correlation_id and event.event_type not in PARTNER_EVENTS:  # partners' are minted for them
            self.correlations.add(event.correlation_id)

    def _outcome(self, event: Event) -> None:
        if event.event_type not in OUTCOMES:
            return
        application = getattr(event, "application_id", "")
        key = digest(application, event.event_type)
        self.outcomes[key] = self.outcomes.get(key, 0) + 1
        if self.outcomes[key] == 2 and len(self.duplicated) < EXAMPLES:
            self.duplicated.append(f"{application} {event.event_type}")

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
        cause = event.causation_id
        if cause and cause in self.logged:
            self.before_cause += at < self.logged[cause]
        elif cause:
            self.effects.setdefault(cause, []).append(at)

    def _logged(self, event: Event, at: Micros) -> None:
        if event.event_id in self.logged:
            return  # the same id on another topic (a partner's copy of an update): its first time counts
        self.logged[event.event_id] = at
        self.before_cause += sum(1 for effect in self.effects.pop(event.event_id, ()) if effect < at)

    def _seats(self, event: Event, at: Micros) -> None:
        """Note each seat reserved and given back, whatever order the topics are read in: the reservations
        per opening and per volunteer are counted over time when checked (`peaks`, `two_at_once`)."""
        kind = event.event_type
        if kind == "OpeningPublished":
            opening = event.opening  # type: ignore[attr-defined]
            self.seats[opening.opening_id] = int(opening.seats)
        elif kind == "PlacementProposed":
            placement: str = event.placement_id  # type: ignore[attr-defined]
            proposal = Proposal(event.opening_id, placement, digest(event.subject_id), at)  # type: ignore[attr-defined]
            self.proposals.append(proposal)
            self.placements_of.setdefault(digest(event.application_id), []).append(placement)  # type: ignore[attr-defined]
        elif kind in ("PlacementCancelled", "MissionEnded"):  # a mission's end gives its seat back
            self.releases.setdefault(event.placement_id, []).append(at)  # type: ignore[attr-defined]
        elif kind == "ErasureCompleted" and event.producer == "placement":  # it gave back what they held
            for placement in self.placements_of.get(digest(event.application_id), []):  # type: ignore[attr-defined]
                self.releases.setdefault(placement, []).append(at)

    def held(self) -> list[tuple[Proposal, Micros | None]]:
        """Every reservation and when its seat was given back (None: it is still held): the first release
        of its placement after it was made."""
        return [
            (p, min((r for r in self.releases.get(p.placement, ()) if r >= p.at), default=None))
            for p in self.proposals
        ]

    def peaks(self) -> dict[str, int]:
        """The most seats of each opening reserved at once (a seat given back at the instant another is
        reserved counts as given back first)."""
        return {opening: most_at_once(spans) for opening, spans in self._spans(lambda p: p.opening).items()}

    def two_at_once(self) -> int:
        """How many reservations were made while their volunteer held another."""
        return sum(
            most_at_once(spans, overlaps=True) for spans in self._spans(lambda p: p.volunteer.hex()).values()
        )

    def _spans(self, by: Callable[[Proposal], str]) -> dict[str, list[tuple[Micros, Micros | None]]]:
        spans: dict[str, list[tuple[Micros, Micros | None]]] = {}
        for proposal, released in self.held():
            spans.setdefault(by(proposal), []).append((proposal.at, released))
        return spans


def most_at_once(spans: Iterable[tuple[Micros, Micros | None]], overlaps: bool = False) -> int:
    """The most spans open at once; or, with `overlaps`, how many opened while another was open. A span
    ending at the instant another opens has ended first."""
    moves = sorted(
        [(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans if end is not None]
    )  # at one instant, -1 before +1
    open_, most, opened_over = 0, 0, 0
    for _, move in moves:
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


def digest(*parts: str) -> bytes:
    """A value kept without being readable (16 bytes of BLAKE2b of its parts)."""
    return hashlib.blake2b("\x1f".join(parts).encode(errors="replace"), digest_size=16).digest()


def micros(at: dt.datetime) -> Micros:
    return (at - EPOCH) // dt.timedelta(microseconds=1)
