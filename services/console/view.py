"""The console's read model: what it shows, folded from the records of the system's topics (pure, no I/O).

One consumer feeds it every record once, in each partition's order; a page or an update reads it, never a
topic. Nothing personal is kept but ids: a volunteer is their application id and volunteer id, their scheme
and their stage, and a timeline line is the operator's one-line summary (no health, screening or visa
detail); an erased volunteer leaves none of it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Mapping

import msgspec

from services.cli.deadletters import DeadLetter, as_dead_letter, fingerprint, replayed_position
from services.cli.history import History
from services.cli.output import neutralised, short_topic
from services.cli.reading import Seen, copy_identity, digest
from services.cli.stages import ERASED, HIDDEN, application_of, next_stage, rank, summary
from shared.contracts.application import ErasureCompleted
from shared.contracts.departure import MissionEnded
from shared.contracts.envelope import Event
from shared.contracts.placement import (
    OpeningPublished,
    OpeningRegistered,
    PlacementCancelled,
    PlacementProposed,
)
from shared.contracts.topics import INTAKES, PARTNER_INTAKES, PARTNER_TOPICS, Topic

# Folded in the history only: what partners read, and what they write (the view shows what Envol's
# services applied, not a partner's word before it is checked)
HISTORY_ONLY = frozenset({Topic.PARTNER_PLACEMENT_UPDATES, *PARTNER_TOPICS, *PARTNER_INTAKES})
UNKNOWN = "?"  # a volunteer's stage before an event puts them in one
REASON_SHOWN = 300  # characters of a dead letter's reason on a page; `envol dlq show` has the rest


class Step(msgspec.Struct, frozen=True):
    """One line of a volunteer's timeline."""

    at: dt.datetime
    topic: str
    event_type: str
    detail: str


class Volunteer(msgspec.Struct):
    """Where one application stands."""

    application_id: str
    scheme: str = "?"
    stage: str = UNKNOWN
    steps: list[Step] = msgspec.field(default_factory=list)
    volunteer_id: str = ""  # their events' subject, as Envol's services state it ("": none read yet)


class Opening(msgspec.Struct):
    """An opening open for matching, and the placements holding its seats."""

    opening_id: str
    mission: str = "?"
    host: str = "?"
    country: str = "?"
    scheme: str = "?"
    seats: int = 0
    registered: bool = False
    held: set[str] = msgspec.field(default_factory=set)  # placement ids holding a seat, filled from the
    # history when listed (`View.open_openings`)


MAX_CLAIMS = 16  # records kept per letter that say they replay it
HIDDEN_SHOWN = "(hidden)"  # a detail withheld, as a timeline line shows it


class Letter(msgspec.Struct, frozen=True):
    """A dead letter as the console lists it."""

    position: str
    origin_topic: str
    origin_position: str
    error_class: str
    reason: str
    at: dt.datetime
    fingerprint: bytes = b""  # what its replay must carry (`DeadLetter.fingerprint`); none if folded before


class Claim(msgspec.Struct, frozen=True):
    """A record on an intake topic that names a dead letter as the one it replays."""

    topic: str
    partition: int
    offset: int
    fingerprint: bytes  # of its topic, key and bytes (`DeadLetter.fingerprint`)


class View(msgspec.Struct):
    """Everything the console shows; `version` grows with every change, so a page knows when to update.

    Its fields are all it knows, so a snapshot of it (`snapshot`, `restored`) is the whole read model."""

    volunteers: dict[str, Volunteer] = msgspec.field(default_factory=dict)
    openings: dict[str, Opening] = msgspec.field(default_factory=dict)
    letters: dict[str, Letter] = msgspec.field(default_factory=dict)
    replayed: set[str] = msgspec.field(default_factory=set)  # positions a snapshot saved before `replays`
    # counted replayed (on the header alone)
    replays: dict[str, list[Claim]] = msgspec.field(default_factory=dict)  # dead-letter position -> the
    # intake records that say they replay it (a sender may write any header: `_replayed` says which count)
    folded: set[bytes] = msgspec.field(default_factory=set)  # digests of the events folded (copies skipped)
    forgotten: set[bytes] = msgspec.field(default_factory=set)  # digests of erased applications' ids
    erased: dict[str, int] = msgspec.field(default_factory=dict)  # erased volunteers per scheme
    history: History = msgspec.field(default_factory=History)  # what the audit judges (restored from a
    # snapshot saved before it was kept, it begins where that snapshot stood: `History.begun_at`)
    records: int = 0
    unreadable: int = 0  # records the view could not fold (each one logged by the console)
    version: int = 0

    @property
    def stages(self) -> dict[str, str]:
        """Each application's stage (those whose events put them in one so far)."""
        return {a: v.stage for a, v in self.volunteers.items() if v.stage != UNKNOWN}

    def snapshot(self) -> bytes:
        """The whole read model as bytes (MessagePack)."""
        return msgspec.msgpack.encode(self)

    @classmethod
    def restored(cls, snapshot: bytes, history_from: Mapping[str, int] | None = None) -> View:
        """The read model a `snapshot` holds. `history_from`: the snapshot was saved with a history of
        another layout (or none), so one begins at these positions (`History.begun_at`), the seats the
        view counted held itself (before the history kept them) reserved before."""
        if history_from is None:
            view = msgspec.msgpack.decode(snapshot, type=cls)
        else:
            fields = msgspec.msgpack.decode(snapshot)
            fields.pop("history", None)
            fields["folded"] = [  # an older layout kept the events' identities in clear
                digest(i) if isinstance(i, str) else i for i in fields.get("folded", ())
            ]
            view = msgspec.msgpack.decode(msgspec.msgpack.encode(fields), type=cls)
            held = {o.opening_id: o.held for o in view.openings.values()}
            view.history = History.begun_at(history_from, held)
        for opening in view.openings.values():
            opening.held = set()  # filled from the history when listed
        view.replayed = {p for p in view.replayed if p in view.letters}  # an older view kept any header text
        for volunteer in view.volunteers.values():  # an older view kept the words of a withdrawal
            volunteer.steps = [_hidden(step) for step in volunteer.steps]
        return view

    def apply(self, seen: Seen) -> None:
        """Fold one record, whatever it holds: an event, a dead letter, or bytes that are neither."""
        self.records += 1
        self.history.record(seen)
        if seen.topic == Topic.DEAD_LETTER:
            self._letter(seen)
        elif seen.event is not None:
            self._event(seen)
        position = replayed_position(dict(getattr(seen.record, "headers", None) or ()))
        if position is not None and seen.topic in INTAKES:  # on a topic a replay writes to
            claims = self.replays.setdefault(position, [])
            if len(claims) < MAX_CLAIMS:  # more: the letter stays listed (never hidden by a flood)
                record = seen.record
                stamp = fingerprint(record.topic, record.key, record.value)
                claims.append(Claim(record.topic, seen.partition, seen.offset, stamp))
                self.version += 1

    def _letter(self, seen: Seen) -> None:
        record = seen.record
        letter: DeadLetter = as_dead_letter(
            seen.partition, seen.offset, record.key, record.value, record.headers or ()
        )
        self.letters[letter.position] = Letter(
            letter.position,
            neutralised(letter.origin_topic),
            neutralised(letter.origin_position),
            neutralised(letter.error_class),
            neutralised(letter.reason)[:REASON_SHOWN],
            seen.timestamp,
            letter.fingerprint,
        )
        self.version += 1

    def _event(self, seen: Seen) -> None:
        event = seen.event
        assert event is not None
        identity = copy_identity(seen)
        if identity in self.folded:
            return
        self.folded.add(identity)
        self.history.event(seen)
        if isinstance(event, (OpeningPublished, OpeningRegistered)):
            self._registered(event)
        if seen.topic in HISTORY_ONLY:
            return
        if isinstance(event, ErasureCompleted):
            self._erase(event)
            return
        self._opening(event)
        application = application_of(event)
        if not application or _digest(application) in self.forgotten:
            return
        volunteer = self.volunteers.setdefault(application, Volunteer(application))
        if seen.topic not in INTAKES:  # the services bind it to the application; an outsider's may not
            volunteer.volunteer_id = event.subject_id
        wishes = getattr(event, "wishes", None)
        if wishes is not None:
            volunteer.scheme = str(wishes.scheme)
        bisect.insort(volunteer.steps, step_of(seen), key=lambda s: s.at)  # in time: topics read side by side
        stage = stage_of(volunteer.steps)
        if stage is not None:
            volunteer.stage = stage
        self.version += 1

    def _erase(self, event: ErasureCompleted) -> None:
        """Forget an erased volunteer (their timeline, their id) and release the seats they held; count them
        under their scheme, once (each service tells its erasure). Their other records, read later from
        other partitions, are skipped."""
        application = event.application_id
        if _digest(application) not in self.forgotten:
            self.forgotten.add(_digest(application))
            volunteer = self.volunteers.pop(application, None)
            scheme = volunteer.scheme if volunteer is not None else "?"  # its other records not read yet
            self.erased[scheme] = self.erased.get(scheme, 0) + 1
        self.version += 1

    def _registered(self, event: OpeningPublished | OpeningRegistered) -> None:
        """Show an opening as placement registered it: the publication its registration names (read from
        the history, which matches them in either order), not another one refused."""
        if isinstance(event, OpeningRegistered):
            opening_id = event.opening_id
            self._seats_of(opening_id).registered = True
        else:
            opening_id = event.opening.opening_id
        published = self.history.registered.get(opening_id)
        if published is not None:
            opening = self._seats_of(opening_id)
            opening.mission, opening.host = published.mission, published.host
            opening.country, opening.scheme, opening.seats = (
                published.country,
                published.scheme,
                published.seats,
            )
        self.version += 1

    def _opening(self, event: Event) -> None:
        if isinstance(event, (PlacementProposed, PlacementCancelled, MissionEnded)):
            self.version += 1  # the seats its opening holds (`open_openings`, from the history)

    def _seats_of(self, opening_id: str) -> Opening:
        return self.openings.setdefault(opening_id, Opening(opening_id))

    def funnel(self) -> tuple[list[str], list[str], Counter[tuple[str, str]]]:
        """The stages and schemes present, and how many volunteers stand at each (stage, scheme)."""
        counts = Counter((v.stage, v.scheme) for v in self.volunteers.values())
        counts.update({(ERASED, scheme): n for scheme, n in self.erased.items()})
        stages = sorted({stage for stage, _ in counts}, key=lambda stage: (rank(stage), stage))
        schemes = sorted({scheme for _, scheme in counts})
        return stages, schemes, counts

    def search(self, query: str, limit: int = 50) -> list[Volunteer]:
        """The volunteers whose application id contains `query` (case-insensitive), the first `limit`."""
        wanted = query.strip().casefold()
        if not wanted:
            return []
        found = [v for key, v in sorted(self.volunteers.items()) if wanted in key.casefold()]
        return found[:limit]

    def forgets(self, application_id: str) -> bool:
        """Whether the application was erased (the view keeps a digest of its id, nothing else)."""
        return _digest(application_id) in self.forgotten

    def applications_of(self, volunteer_id: str) -> list[str]:
        """The applications of the volunteer (the subject of their events on Envol's own topics)."""
        return sorted(a for a, v in self.volunteers.items() if v.volunteer_id == volunteer_id)

    def timeline_of(self, volunteer_id: str) -> list[Step]:
        """The lines of every application of the volunteer, in time order."""
        steps = [step for a in self.applications_of(volunteer_id) for step in self.volunteers[a].steps]
        return sorted(steps, key=lambda step: step.at)

    @property
    def unattributed(self) -> int:
        """Applications whose volunteer the read model does not know: folded before it kept volunteer ids
        (a snapshot of an earlier version), or known from intake topics alone."""
        return sum(1 for v in self.volunteers.values() if not v.volunteer_id)

    def open_openings(self) -> list[Opening]:
        """The openings registered, each with the placements holding its seats now (as the history counts
        them, whatever order the topics were read in)."""
        held = self.history.holding
        return [
            msgspec.structs.replace(o, held=set(held.get(o.opening_id, ())))
            for o in sorted(self.openings.values(), key=lambda o: o.opening_id)
            if o.registered
        ]

    def pending_letters(self) -> list[Letter]:
        """The dead letters not replayed yet, newest first."""
        waiting = [letter for letter in self.letters.values() if not self._replayed(letter)]
        return sorted(waiting, key=lambda letter: letter.at, reverse=True)

    def _replayed(self, letter: Letter) -> bool:
        """Whether a record written after the letter's original, on its partition, carries its topic, key and
        bytes and names it: a replay, whoever wrote it (a failing one is a new letter; the original itself,
        or a copy sent before it, names nothing). A letter folded before fingerprints were kept needs such a
        claim from its origin topic."""
        if letter.position in self.replayed:
            return True
        partition, offset = _origin(letter)
        return any(
            claim.partition == partition
            and claim.offset > offset >= 0
            and (
                claim.fingerprint == letter.fingerprint
                if letter.fingerprint
                else claim.topic == letter.origin_topic
            )
            for claim in self.replays.get(letter.position, ())
        )


def _hidden(step: Step) -> Step:
    """A step as the view now keeps it: an older view kept a withdrawal's own words (`SENSITIVE_EVENTS`)."""
    if step.event_type != "WithdrawalRequested" or " reason=" not in step.detail:
        return step
    return msgspec.structs.replace(
        step, detail=f"{step.detail.split(' reason=', 1)[0]} reason={HIDDEN_SHOWN}"
    )


def _origin(letter: Letter) -> tuple[int, int]:
    """The partition and offset a letter came from, as the service that set it aside wrote them, or
    (-1, -1)."""
    partition, _, offset = letter.origin_position.partition(":")
    try:
        return int(partition), int(offset)
    except ValueError:
        return -1, -1


def step_of(seen: Seen) -> Step:
    """The timeline line of an event: when, where, what, and the operator's one-line summary (no health,
    screening or visa detail)."""
    assert seen.event is not None
    detail = neutralised(summary(seen.event)).replace(HIDDEN, HIDDEN_SHOWN)
    return Step(seen.timestamp, short_topic(seen.topic), seen.event.event_type, detail)


def stage_of(steps: list[Step]) -> str | None:
    """The stage a timeline puts its application in, its events folded in time order (as `envol status`
    always did: the topics are read side by side, so a later event may be read first)."""
    stage = None
    for step in steps:
        stage = next_stage(stage, step.event_type) or stage
    return stage


def _digest(application_id: str) -> bytes:
    return hashlib.sha256(application_id.encode()).digest()
