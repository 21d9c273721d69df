"""The departure handlers on the in-memory store: three topics in, one out, idempotency, the outbox."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec
import pytest

from services.departure.domain import MAX_EARLY_REPORTS, Hosted, Status
from services.departure.handlers import DepartureHandlers
from services.departure.store import InMemoryDepartureStore
from shared import samples
from shared.aggregates import APPLIED_WINDOW, Outgoing, Position, Record
from shared.contracts.application import TransitionRefused
from shared.contracts.codec import decode
from shared.contracts.departure import EarlyEndReason, HostReport
from shared.contracts.envelope import Event
from shared.contracts.intake import host_sender
from shared.contracts.reasons import ReasonCode as R
from shared.contracts.topics import Topic
from shared.memory import InMemoryAggregates
from shared.processing import UnitOfWork, current_position, current_unit
from tests.examples import EXAMPLES
from tests.unit.test_application_handlers import Sent
from tests.unit.test_departure_domain import (
    APPLICATION,
    IGNORED,
    confirmed,
    facts,
    placement_cancelled,
    withdrawn,
)

IGNORED_ON_TOPICS = [(topic, event) for topic, event in EXAMPLES if event in IGNORED]


def make() -> tuple[DepartureHandlers, InMemoryDepartureStore, Sent]:
    store, sent = InMemoryDepartureStore(), Sent()
    return DepartureHandlers(store, sent), store, sent


async def feed(handlers: DepartureHandlers, topic: Topic, events: Iterable[Event]) -> None:
    for event in events:
        await handlers.handle(topic, event)


async def test_a_whole_departure_is_published_on_the_departure_topic_keyed_by_volunteer() -> None:
    handlers, store, sent = make()
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed())
    await feed(handlers, Topic.DEPARTURE_INTAKE, facts())
    await feed(
        handlers, Topic.DEPARTURE_INTAKE, [samples.departed(APPLICATION), samples.arrived(APPLICATION)]
    )
    assert sent.types() == [
        "ChecklistOpened",
        *["ChecklistItemDone"] * 8,
        "ContractSigned",
        "DepartureScheduled",
        "VolunteerDeparted",
        "ArrivalConfirmed",
    ]
    assert {(item.topic, item.key) for item in sent.items} == {(Topic.DEPARTURE_EVENTS.value, "vol-1")}
    record = await store.departures.load("app-1")
    assert record.state is not None and record.state.status is Status.ARRIVED


async def test_facts_that_come_before_the_placement_are_published_once_it_is_confirmed() -> None:
    handlers, _, sent = make()
    await feed(handlers, Topic.DEPARTURE_INTAKE, facts())
    assert sent.items == []
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed())
    assert sent.types()[0] == "ChecklistOpened"
    assert sent.types()[-2:] == ["ContractSigned", "DepartureScheduled"]


async def test_a_redelivered_fact_changes_nothing_and_emits_nothing() -> None:
    handlers, store, sent = make()
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed())
    training = facts()[0]
    await handlers.handle(Topic.DEPARTURE_INTAKE, training)
    before = await store.departures.load("app-1")
    await handlers.handle(Topic.DEPARTURE_INTAKE, training)
    assert await store.departures.load("app-1") == before
    assert sent.types() == ["ChecklistOpened", "ChecklistItemDone"]


@pytest.mark.parametrize(("topic", "event"), IGNORED_ON_TOPICS, ids=lambda x: getattr(x, "event_type", x))
async def test_upstream_events_departure_does_not_act_on_leave_no_trace(topic: Topic, event: Event) -> None:
    handlers, store, sent = make()
    await handlers.handle(topic, event)
    assert store.departures.documents == {} and sent.items == []


async def test_a_declined_proposal_of_an_unknown_case_stores_nothing() -> None:
    handlers, store, sent = make()
    await handlers.handle(Topic.PLACEMENT_EVENTS, placement_cancelled())
    assert store.departures.documents == {} and sent.items == []


async def test_a_refused_visa_releases_the_seat_once_and_ignores_placements_echo() -> None:
    handlers, store, sent = make()
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed())
    await handlers.handle(Topic.DEPARTURE_INTAKE, facts(visa_granted=False)[3])
    await handlers.handle(Topic.PLACEMENT_EVENTS, placement_cancelled())
    assert sent.types() == ["ChecklistOpened", "DepartureCancelled"]
    cancelled = decode(sent.items[-1].topic, sent.items[-1].value)
    assert cancelled.reason == R.VISA_REFUSED  # type: ignore[attr-defined]
    state = (await store.departures.load("app-1")).state
    assert state is not None and state.status is Status.CANCELLED


async def test_a_withdrawal_read_from_the_application_topic_cancels_an_open_checklist() -> None:
    handlers, _, sent = make()
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed())
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn())
    await handlers.handle(Topic.DEPARTURE_INTAKE, facts()[0])
    assert sent.types() == ["ChecklistOpened", "DepartureCancelled", "TransitionRefused"]


async def test_an_outbox_left_by_a_crash_is_published_on_redelivery() -> None:
    store, sent = InMemoryDepartureStore(), Sent()

    async def crash(outgoing: Iterable[Outgoing]) -> None:
        raise ConnectionError("broker down")

    event = confirmed()
    with contextlib.suppress(ConnectionError):
        await DepartureHandlers(store, crash).handle(Topic.PLACEMENT_EVENTS, event)
    assert len((await store.departures.load("app-1")).outbox) == 1
    await DepartureHandlers(store, sent).handle(Topic.PLACEMENT_EVENTS, event)
    assert sent.types() == ["ChecklistOpened"]


async def test_an_erased_case_is_a_tombstone_that_the_rest_of_the_checklist_does_not_reopen() -> None:
    handlers, store, sent = make()
    facts_ = facts()
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed())
    await feed(handlers, Topic.DEPARTURE_INTAKE, facts_[:3])
    before = len(sent.items)
    await handlers.handle(Topic.APPLICATION_EVENTS, samples.erasure_completed(APPLICATION))
    await handlers.handle(Topic.PLACEMENT_EVENTS, samples.erasure_completed(APPLICATION, "placement"))
    record = await store.departures.load("app-1")
    assert record.erased and record.state is None
    assert sent.types()[before:] == ["ErasureCompleted"]
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed())  # replayed
    await feed(handlers, Topic.DEPARTURE_INTAKE, facts_)
    assert await store.departures.load("app-1") == record and sent.types()[before:] == ["ErasureCompleted"]


@pytest.mark.parametrize(
    ("host", "stranger"),
    [("Neotropical Primate Conservation", "partner-ird"), ("Neotropical Primate Conservation", "host"),
     ("A host that is not a partner", "partner-npc")],
)  # fmt: skip
async def test_a_hosts_fact_about_another_hosts_mission_is_refused_and_its_own_applies(
    host: str, stranger: str
) -> None:
    handlers, store, sent = make()
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed(host_organisation=host))
    await feed(handlers, Topic.DEPARTURE_INTAKE, [*facts(), samples.departed(APPLICATION)])
    arrival = samples.arrived(APPLICATION)
    forged = msgspec.structs.replace(arrival, event_id="forged-arrival", producer=stranger)
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, forged)
    refusals = [
        e for e in (decode(i.topic, i.value) for i in sent.items) if e.event_type == "TransitionRefused"
    ]
    assert [f"{stranger} is not the host of this opening" in r.reason for r in refusals] == [True]  # type: ignore[attr-defined]
    own = msgspec.structs.replace(arrival, producer=host_sender(host))
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, own)
    record = await store.departures.load("app-1")
    assert record.state is not None and record.state.status is Status.ARRIVED


PARTNER_HOST = "Neotropical Primate Conservation"


async def departed_with(handlers: DepartureHandlers, host: str = PARTNER_HOST, **confirmation: Any) -> None:
    """A confirmed placement of `host` whose volunteer has left for it."""
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed(host_organisation=host, **confirmation))
    await feed(handlers, Topic.DEPARTURE_INTAKE, [*facts(), samples.departed(APPLICATION)])


def report(kind: HostReport, placement_id: str = "pl-1", host: str = PARTNER_HOST, **fields: Any) -> Event:
    return samples.placement_reported(placement_id, host, kind, **fields)


def refusals(sent: Sent) -> list[TransitionRefused]:
    return [e for e in (decode(i.topic, i.value) for i in sent.items) if isinstance(e, TransitionRefused)]


async def test_a_partner_reports_the_arrival_and_an_early_end_by_the_placement_id_alone() -> None:
    handlers, store, sent = make()
    await departed_with(handlers)
    before = len(sent.items)
    arrival = report(HostReport.ARRIVED)
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, arrival)
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, arrival)  # redelivered: applied once
    last_day = dt.date(2027, 5, 31)
    ending = report(HostReport.ENDING_EARLY, end_date=last_day, ground=EarlyEndReason.MUTUAL_AGREEMENT)
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, ending)
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, report(HostReport.ENDED, end_date=last_day))
    assert sent.types()[before:] == ["ArrivalConfirmed", "MissionEndingEarly", "MissionEnded"]
    assert {item.key for item in sent.items[before:]} == {"vol-1"}  # about the volunteer, as ever
    case = (await store.departures.load("app-1")).state
    assert case is not None and case.status is Status.ENDED
    assert case.mission is not None and case.mission.last_day == last_day


class CrashOnce(InMemoryAggregates[Hosted]):
    """The placements, whose first save is cut off by a crash (after the case's own save)."""

    def __init__(self) -> None:
        super().__init__(Hosted)
        self.crashed = False

    async def save(self, record: Record[Hosted]) -> Record[Hosted]:
        if not self.crashed:
            self.crashed = True
            raise ConnectionError("killed")
        return await super().save(record)


class Delivering:
    """Delivers each message as the consumer does: at its offset of its topic's partition, as a unit of
    work of its own; the same message again is a redelivery, at its old offset."""

    def __init__(self, handlers: DepartureHandlers) -> None:
        self.handlers, self.offsets, self.at = handlers, Counter[str](), {}

    async def __call__(self, topic: Topic, event: Event, *, copy: bool = False) -> None:
        if event.identity not in self.at or copy:
            self.at[event.identity] = self.offsets[topic]
            self.offsets[topic] += 1
        position = Position(f"{topic}:0:{event.subject_id}", self.at[event.identity])
        unit = UnitOfWork()
        tokens = current_position.set(position), current_unit.set(unit)
        try:
            await self.handlers.handle(topic, event)
        finally:
            current_unit.reset(tokens[1])
            current_position.reset(tokens[0])
        await unit.commit()


async def test_a_report_on_a_placement_not_known_yet_is_kept_and_applied_once_it_is() -> None:
    """A crash between the case's save of its confirmation and the placement's: the case goes on (other
    messages publish its outbox) while its placement is not known by id until the confirmation's
    redelivery; the host's report in between is kept, then applied (as a fact of the confirmation's
    message: the case has that message's offset already)."""
    handlers, store, sent = make()
    store.placements, deliver = CrashOnce(), Delivering(handlers)
    confirmation = confirmed(host_organisation=PARTNER_HOST)
    with pytest.raises(ConnectionError):
        await deliver(Topic.PLACEMENT_EVENTS, confirmation)
    for fact in [*facts(), samples.departed(APPLICATION)]:
        await deliver(Topic.DEPARTURE_INTAKE, fact)
    arrival = report(HostReport.ARRIVED)
    await deliver(Topic.DEPARTURE_INTAKE_HOST, arrival)
    assert "ArrivalConfirmed" not in sent.types() and refusals(sent) == []
    await deliver(Topic.PLACEMENT_EVENTS, confirmation)  # redelivered
    assert sent.types().count("ArrivalConfirmed") == 1
    await deliver(Topic.PLACEMENT_EVENTS, confirmation)  # and again
    await deliver(Topic.DEPARTURE_INTAKE_HOST, arrival)  # the report redelivered too
    assert sent.types().count("ArrivalConfirmed") == 1 and refusals(sent) == []

    # a copy of the confirmation, at a new offset long after: the kept report is not applied again,
    # though the case no longer remembers it among its latest facts
    for _ in range(APPLIED_WINDOW):
        await deliver(Topic.DEPARTURE_INTAKE_HOST, report(HostReport.ARRIVED))  # refused: arrived already
    before = len(sent.items)
    await deliver(Topic.PLACEMENT_EVENTS, confirmation, copy=True)
    assert sent.items[before:] == []


async def test_reports_on_a_placement_no_case_follows_are_kept_up_to_a_bound_then_refused() -> None:
    handlers, store, sent = make()
    await departed_with(handlers)
    for n in range(MAX_EARLY_REPORTS + 1):
        fact = report(HostReport.ARRIVED, placement_id="pl-unknown")
        await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, fact)
        await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, fact)  # redelivered: kept or refused once
        assert len(refusals(sent)) == (n == MAX_EARLY_REPORTS)
    (refused,) = refusals(sent)
    assert (refused.subject_id, refused.refused_event_id) == ("pl-unknown", fact.event_id)
    assert refused.reason.startswith("no confirmed placement has this id")
    case = (await store.departures.load("app-1")).state
    assert case is not None and case.status is Status.DEPARTED
    other = msgspec.structs.replace(report(HostReport.ARRIVED, placement_id="pl-unknown"), producer="host")
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, other)  # another sender's bound is its own
    assert len(refusals(sent)) == 1


async def test_another_partners_report_on_the_placement_is_refused_by_its_case() -> None:
    handlers, store, sent = make()
    await departed_with(handlers)
    forged = msgspec.structs.replace(report(HostReport.ARRIVED), producer="partner-ird")
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, forged)
    assert [r.reason for r in refusals(sent)] == ["partner-ird is not the host of this opening"]
    case = (await store.departures.load("app-1")).state
    assert case is not None and case.status is Status.DEPARTED


async def test_a_confirmation_the_case_refuses_leaves_its_placement_unknown() -> None:
    handlers, store, sent = make()
    await departed_with(handlers)
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed("pl-2", host_organisation=PARTNER_HOST))
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, report(HostReport.ARRIVED, placement_id="pl-2"))
    assert [r.reason for r in refusals(sent)] == ["the departure already follows placement pl-1"]
    placement = (await store.placements.load("pl-2")).state
    assert placement is not None and not placement.known and len(placement.early) == 1  # kept, never applied
    assert "ArrivalConfirmed" not in sent.types()


async def test_once_the_case_is_erased_no_report_reaches_it_and_no_replay_knows_its_placement() -> None:
    handlers, store, sent = make()
    await departed_with(handlers)
    await handlers.handle(Topic.APPLICATION_EVENTS, samples.erasure_completed(APPLICATION))
    placement = await store.placements.load("pl-1")
    assert placement.erased and placement.state is None
    before = len(sent.items)
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed(host_organisation=PARTNER_HOST))  # replayed
    await handlers.handle(Topic.DEPARTURE_INTAKE_HOST, report(HostReport.ARRIVED))
    assert sent.items[before:] == [] and await store.placements.load("pl-1") == placement


async def test_a_confirmation_that_finds_its_case_erased_leaves_its_placement_a_tombstone() -> None:
    handlers, store, _ = make()
    await handlers.handle(Topic.APPLICATION_EVENTS, samples.erasure_completed(APPLICATION))
    await handlers.handle(Topic.PLACEMENT_EVENTS, confirmed(host_organisation=PARTNER_HOST))
    placement = await store.placements.load("pl-1")
    assert placement.erased and placement.state is None
