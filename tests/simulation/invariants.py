"""The audit's invariants on the simulated topics and stores, and the simulation's own: nothing lost."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from collections.abc import Sequence

from services.cli.audit import (
    Check,
    complete,
    dead_letters_explained,
    order_kept,
    outcomes_once,
    partners_apart,
    reasons_coded,
    seats_respected,
)
from services.cli.history import History
from services.cli.reading import Seen, first_copies
from services.cli.stages import stages
from services.placement.domain import Candidate, Status
from services.placement.matching import ranked
from services.placement.openings import Listing, offered
from shared.aggregates import from_document
from shared.contracts.codec import ContractError, decode_sent
from shared.contracts.envelope import Event
from shared.contracts.partner import ShortlistLeft
from shared.contracts.placement import CandidateSuggested, PlacementConfirmed
from shared.contracts.topics import Topic
from tests.simulation.broker import Log, LogRecord
from tests.simulation.replica import Group, Ledger
from tests.simulation.services import Service
from tests.simulation.stores import PlacementStore
from tests.simulation.world import EPOCH, Cast

ACTIVE = (Status.PROPOSED, Status.CONFIRMED, Status.DEPARTED, Status.ARRIVED)


def _seen(record: LogRecord) -> Seen:
    event = None
    if record.topic != Topic.DEAD_LETTER:
        try:
            event = decode_sent(record.topic, record.key, record.value)  # as the tools read it (`as_seen`)
        except ContractError:
            event = None
    stamp = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=record.timestamp)
    return Seen(record.topic, record.partition, record.offset, stamp, record, event)


def nothing_lost(log: Log, groups: list[Group], ledger: Ledger) -> Check:
    """Every offset of every consumed topic committed, and applied through a whole batch or dead-lettered."""
    lag = {g.name: log.lag(g.name, g.service.consumes) for g in groups}
    done = ledger.processed | ledger.dead
    missing = [
        (g.name, r.topic, r.partition, r.offset)
        for g in groups
        for topic in g.service.consumes
        for part in log.topics[topic]
        for r in part
        if (g.name, r.topic, r.partition, r.offset) not in done
    ]
    unclassified = [s for s in ledger.stops if s.startswith("unhandled")]
    ok = not any(lag.values()) and not missing and not unclassified
    detail = f"lag {lag}; {len(missing)} not applied {missing[:3]}; stops {ledger.stops[:3]}"
    return Check("every consumed offset applied or dead-lettered, and committed", ok, detail)


def seats_match_candidates(store: PlacementStore) -> Check:
    """Each held seat is the seat of an active proposal, and each active proposal holds its seat."""
    records = [from_document(d, Candidate) for d in store.candidates.documents.values()]
    candidates = [r.state for r in records if r.state is not None]
    active = {
        c.placement.seat_id: c.placement.placement_id
        for c in candidates
        if c.placement and c.status in ACTIVE
    }
    held = {seat: hold.placement_id for seat, hold in store.seats.seats.items()}
    volunteers = Counter(c.volunteer_id for c in candidates if c.status in ACTIVE)
    ok = held == active and all(n == 1 for n in volunteers.values())
    return Check("seats held are exactly the active proposals' seats", ok, f"held {held}, active {active}")


def suggested_once(events: Sequence[Event]) -> Check:
    """Matching suggests a candidate for an opening at most once, whatever crashes and redeliveries made it
    suggest again (one event id per candidate and opening)."""
    made = Counter((e.application_id, e.opening_id) for e in events if isinstance(e, CandidateSuggested))
    twice = {pair: n for pair, n in made.items() if n > 1}
    return Check(
        "each suggestion made once", not twice, f"{sum(made.values())} made; twice: {twice or 'none'}"
    )


def shortlists_told(store: PlacementStore, events: Sequence[Event]) -> Check:
    """Each applicant on a partner's shortlist who can no longer be chosen (their case closed, or they were
    confirmed) left it once, by a `ShortlistLeft`, on every shortlist but the one of the opening they were
    confirmed on; nobody else left one (erased candidates keep no shortlist: `ShortlistErased` tells it)."""
    confirmed = {e.application_id: e.opening_id for e in events if isinstance(e, PlacementConfirmed)}
    expected: Counter[tuple[str, str]] = Counter()
    listed = set()  # the entries of candidates not erased (an erased one's are forgotten, told or not)
    for document in store.candidates.documents.values():
        c = from_document(document, Candidate).state
        if c is None:
            continue
        listed |= {(a.opening_id, a.volunteer_ref) for a in c.applied}
        if not (c.status is Status.CLOSED or c.application_id in confirmed):
            continue
        for applied in c.applied:
            if applied.volunteer_ref and applied.opening_id != confirmed.get(c.application_id):
                expected[(applied.opening_id, applied.volunteer_ref)] += 1
    told = Counter(
        (e.opening_id, e.volunteer_ref)
        for e in events
        if isinstance(e, ShortlistLeft) and (e.opening_id, e.volunteer_ref) in listed
    )
    differ = (told - expected) + (expected - told)
    return Check(
        "applicants who can no longer be chosen left each shortlist once",
        told == expected,
        f"{sum(expected.values())} expected, {sum(told.values())} told; differ: {dict(differ) or 'none'}",
    )


LOST_WAKE_UP = "no candidate waits forever beside a free seat that suits it"


def waiting_beside_a_free_seat(store: PlacementStore) -> list[str]:
    """The candidates left awaiting although a suitable opening has a seat nobody holds."""
    openings = [offered(from_document(d, Listing).state) for d in store.openings.documents.values()]
    held = Counter(hold.opening_id for hold in store.seats.seats.values())
    free = [o for o in openings if o is not None and held[o.opening_id] < o.seats]
    candidates = [from_document(d, Candidate).state for d in store.candidates.documents.values()]
    placed = {c.volunteer_id for c in candidates if c is not None and c.status in ACTIVE}
    stuck = []
    for c in candidates:
        if c is None or c.status is not Status.AWAITING or c.wishes is None or c.nationality is None:
            continue
        if c.volunteer_id in placed:
            continue  # placed through another application: it waits for that one to end
        if ranked(free, c.wishes, c.nationality, c.excluded, EPOCH.date(), c.limits):
            stuck.append(c.application_id)
    return sorted(stuck)


def erased_everywhere(services: Sequence[Service], erased: Sequence[Cast]) -> Check:
    """Each erased volunteer's application is a tombstone in all four services, none of their personal
    values is left in any document of any store, and placement holds no seat or claim of theirs."""
    wrong = []
    for who in erased:
        application = who.persona.application
        volunteer = application.volunteer
        values = [volunteer.given_name, volunteer.family_name, volunteer.email]
        for service in services:
            for name, aggregates in vars(service.store).items():
                documents = getattr(aggregates, "documents", {})
                for document in documents.values():
                    held = json.dumps(document, default=str)
                    wrong += [f"{service.name}.{name} holds {v}" for v in values if v in held]
                record = documents.get(application.application_id)
                if name in TOMBSTONED and not (record and record.get("erased")):
                    wrong.append(f"{service.name}.{name}: {application.application_id} not a tombstone")
                wrong += [
                    f"{service.name}.{name}: {key} not a tombstone"
                    for key, document in documents.items()
                    if name in BY_PLACEMENT
                    and document.get("subject") == application.subject_id
                    and not document.get("erased")
                ]
            seats = getattr(service.store, "seats", None)
            if seats is not None and application.subject_id in seats.volunteers:
                wrong.append(f"{service.name} still claims {application.subject_id}")
    return Check(
        "erased volunteers are tombstones everywhere, with nothing of theirs left",
        not wrong,
        f"{len(erased)} erased; {wrong[:5] or 'nothing left'}",
    )


def placed_through_one(reached: dict[str, str], rivals: Sequence[tuple[str, str]]) -> Check:
    """Of two applications of one volunteer that both may be placed, exactly one is and the other waits
    (never both, never neither)."""
    wrong = [
        f"{a}: {reached.get(a)}, {b}: {reached.get(b)}"
        for a, b in rivals
        if sorted((reached.get(a, "none"), reached.get(b, "none"))) != ["4 awaiting a seat", "9 arrived"]
    ]
    return Check("a volunteer with two applications is placed through one of them", not wrong, str(wrong))


def figures(history: History) -> tuple[object, ...]:
    """What the audit's checks of the past count in a history."""
    return (
        history.outcome_count, history.duplicates, history.disorder, history.before_cause, history.peaks(),
        history.two_at_once(), history.seats, history.reasons, history.free_reasons, history.letters,
        history.unexplained, history.missed,
        {opening: sorted(held) for opening, held in history.holding.items() if held},
        history.stated, history.next_offsets,
    )  # fmt: skip


def read_in_any_order(seen: Sequence[Seen], history: History, orders: int = 3) -> Check:
    """The audit's history counts the same whatever order its reader takes the partitions in, each
    partition's own order kept (the console reads the topics side by side): folded one whole partition
    after another, forwards and backwards (as a rebuild may read a topic ahead of the others), and in
    `orders` random interleavings drawn from the records themselves, so a seed replays them."""
    partitions: dict[tuple[str, int], list[Seen]] = {}
    for item in seen:
        partitions.setdefault((item.topic, item.partition), []).append(item)
    whole = [item for records in partitions.values() for item in records]
    backwards = [item for records in reversed(partitions.values()) for item in records]
    rng = random.Random(len(seen))
    expected = figures(history)
    for interleaved in (whole, backwards, *(interleaving(partitions, rng) for _ in range(orders))):
        found = figures(History.of(interleaved))
        if found != expected:
            return Check(READ_IN_ANY_ORDER, False, f"in time order {expected}; read otherwise {found}")
    return Check(READ_IN_ANY_ORDER, True, f"{orders + 2} orders of {len(partitions)} partitions")


def interleaving(partitions: dict[tuple[str, int], list[Seen]], rng: random.Random) -> list[Seen]:
    """The partitions' records in a random order that keeps each partition's own."""
    queues = [list(reversed(records)) for records in partitions.values()]
    interleaved = []
    while queues:
        queue = rng.choice(queues)
        interleaved.append(queue.pop())
        if not queue:
            queues.remove(queue)
    return interleaved


READ_IN_ANY_ORDER = "the audit's history counts the same in any order the partitions are read"
TOMBSTONED = ("applications", "cases", "candidates", "departures")  # the stores' aggregates of a volunteer
BY_PLACEMENT = ("placements",)  # aggregates of a volunteer's placement, by its id (departure's)


def check(
    log: Log,
    groups: list[Group],
    ledger: Ledger,
    store: PlacementStore,
    expected: dict[str, str],
    rivals: Sequence[tuple[str, str]] = (),
) -> list[Check]:
    """Every invariant of one schedule."""
    seen = [_seen(r) for r in log.records()]
    firsts = first_copies(seen)
    events = [s.event for s in firsts if s.event is not None]
    occupancy = Counter(hold.opening_id for hold in store.seats.seats.values())
    stuck = waiting_beside_a_free_seat(store)
    others = {a: stage for a, stage in expected.items() if a not in stuck}  # stuck: the check below
    history = History.of(seen)
    return [
        read_in_any_order(seen, history),
        Check(LOST_WAKE_UP, not stuck, f"awaiting beside a free seat: {stuck or 'none'}"),
        nothing_lost(log, groups, ledger),
        outcomes_once(history),
        order_kept(history),
        seats_respected(history, dict(occupancy)),
        partners_apart(seen),
        seats_match_candidates(store),
        shortlists_told(store, events),
        suggested_once(events),
        complete(stages(events), others),
        placed_through_one(stages(events), rivals),
        reasons_coded(history),
        dead_letters_explained(history, 0),
    ]
