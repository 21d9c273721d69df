"""The departure state machine, row by row, and every checklist rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec
import pytest

from services.departure import rules
from services.departure.domain import Concerned, Departure, Status, decide
from shared import samples
from shared.contracts import departure as dep
from shared.contracts.application import ApplicationWithdrawn, TransitionRefused
from shared.contracts.departure import (
    ArrivalConfirmed,
    ChecklistItemDone,
    ChecklistOpened,
    DepartureCancelled,
    DepartureScheduled,
    Item,
    PassportChecked,
    VolunteerDeparted,
)
from shared.contracts.envelope import Event, new_id
from shared.contracts.placement import PlacementCancelled, PlacementConfirmed
from shared.contracts.reasons import ReasonCode as R
from shared.contracts.topics import Topic
from shared.contracts.types import Scheme
from tests.examples import EXAMPLES

E = TypeVar("E", bound=Event)
APPLICATION = samples.submitted()
PLANNED_RETURN = dt.date(2027, 8, 31)
PASSPORT_LIMIT = dt.date(2028, 2, 29)  # 31 August 2027 + 6 calendar months, clamped to a leap February


def confirmed(placement_id: str = "pl-1", **overrides: Any) -> PlacementConfirmed:
    """Placement's confirmation of a 12-month mission from 1 September 2026."""
    fields: dict[str, Any] = {
        "subject_id": "vol-1",
        "producer": "placement",
        "application_id": "app-1",
        "placement_id": placement_id,
        "opening_id": "open-1",
        "country": "PE",
        "start_date": dt.date(2026, 9, 1),
        "end_date": PLANNED_RETURN,
        "scheme": Scheme.SERVICE_CIVIQUE,
    }
    return PlacementConfirmed(**(fields | overrides))


def placement_cancelled(placement_id: str = "pl-1") -> PlacementCancelled:
    """Placement released the seat."""
    return PlacementCancelled(
        subject_id="vol-1",
        producer="placement",
        application_id="app-1",
        placement_id=placement_id,
        opening_id="open-1",
        reason=R.DECLINED_BY_HOST,
    )


def withdrawn() -> ApplicationWithdrawn:
    """The volunteer withdrew the application."""
    return ApplicationWithdrawn(
        subject_id="vol-1", producer="application", application_id="app-1", reason=R.VOLUNTEER_WITHDREW
    )


def facts(**overrides: Any) -> list[Event]:
    """The eight checklist facts, all good unless overridden."""
    return samples.checklist(APPLICATION, **overrides)


def again(event: Event) -> Event:
    """The same fact sent a second time (a new event, not a redelivery)."""
    return msgspec.structs.replace(event, event_id=new_id())


def on_site(kind: type[E], **fields: Any) -> E:
    """A fact of the mission, stated now."""
    return samples.on_site(APPLICATION, kind, **fields)


def drive(events: Iterable[Event], state: Departure | None = None) -> tuple[Departure | None, list[Event]]:
    """Apply events in order; return the final state and everything emitted."""
    emitted: list[Event] = []
    for event in events:
        state, out = decide(state, event)
        emitted += out
    return state, emitted


def types(events: Iterable[Event]) -> list[str]:
    return [event.event_type for event in events]


PATHS: dict[Status, list[Event]] = {
    Status.NEW: [],
    Status.AWAITING_PLACEMENT: facts()[:1],
    Status.PREPARING: [confirmed()],
    Status.SCHEDULED: [confirmed(), *facts()],
    Status.DEPARTED: [confirmed(), *facts(), samples.departed(APPLICATION)],
    Status.ARRIVED: [confirmed(), *facts(), samples.departed(APPLICATION), samples.arrived(APPLICATION)],
    Status.CANCELLED: [confirmed(), placement_cancelled()],
}
PATHS[Status.ENDING] = [
    *PATHS[Status.ARRIVED],
    on_site(dep.EarlyEndNotified, last_day=PLANNED_RETURN - dt.timedelta(days=30),
            ground=dep.EarlyEndReason.HOST_DECISION),
]  # fmt: skip
PATHS[Status.ENDED] = [*PATHS[Status.ARRIVED], on_site(dep.MissionEndReported, ended_on=PLANNED_RETURN)]
PATHS[Status.RETURNED] = [*PATHS[Status.ENDED], on_site(dep.ReturnReported, returned_on=PLANNED_RETURN)]
PATHS[Status.CLOSED] = [
    *PATHS[Status.RETURNED],
    on_site(dep.InterviewHeld, stage=dep.InterviewStage.END),
    on_site(dep.MissionReportSubmitted),
]


def at(status: Status) -> Departure | None:
    """A departure case in `status`, reached through real events."""
    state, _ = drive(PATHS[status])
    assert (state.status if state else Status.NEW) is status
    return state


def refused_because(events: list[Event]) -> str:
    assert len(events) == 1 and isinstance(events[0], TransitionRefused)
    return events[0].reason


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 15), 6, dt.date(2026, 7, 15)),
        (dt.date(2026, 8, 31), 6, dt.date(2027, 2, 28)),
        (dt.date(2027, 8, 31), 6, dt.date(2028, 2, 29)),
        (dt.date(2026, 10, 31), 6, dt.date(2027, 4, 30)),
        (dt.date(2026, 7, 31), 6, dt.date(2027, 1, 31)),
        (dt.date(2026, 12, 1), 1, dt.date(2027, 1, 1)),
        (dt.date(2026, 1, 31), 13, dt.date(2027, 2, 28)),
        (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)),
        (dt.date(2026, 5, 14), 0, dt.date(2026, 5, 14)),
    ],
)
def test_add_months_moves_by_calendar_months_and_clamps_to_the_month_end(
    day: dt.date, months: int, expected: dt.date
) -> None:
    assert rules.add_months(day, months) == expected


@pytest.mark.parametrize(
    ("expires_on", "valid"),
    [
        (PASSPORT_LIMIT, True),
        (PASSPORT_LIMIT + dt.timedelta(days=1), True),
        (PASSPORT_LIMIT - dt.timedelta(days=1), False),
        (dt.date(2028, 2, 27), False),  # 180 days after the return is not 6 calendar months
        (PLANNED_RETURN, False),
    ],
)
def test_a_passport_must_be_valid_six_calendar_months_after_the_planned_return(
    expires_on: dt.date, valid: bool
) -> None:
    assert rules.passport_valid(expires_on, PLANNED_RETURN) is valid


def test_a_complete_checklist_signs_the_contract_and_schedules_the_booked_departure() -> None:
    checklist = facts(departure_date=dt.date(2026, 8, 28))
    state, events = drive([confirmed(), *checklist])
    assert state is not None and state.status is Status.SCHEDULED
    assert types(events) == [
        "ChecklistOpened",
        *["ChecklistItemDone"] * 8,
        "ContractSigned",
        "DepartureScheduled",
    ]
    assert [e.item for e in events if isinstance(e, ChecklistItemDone)] == [
        Item.TRAINING,
        Item.MEDICAL,
        Item.PASSPORT,
        Item.VISA,
        Item.INSURANCE,
        Item.TRAVEL,
        Item.SECURITY_BRIEFING,
        Item.CONSULAR_REGISTRATION,
    ]
    scheduled = events[-1]
    assert isinstance(scheduled, DepartureScheduled)
    assert (scheduled.placement_id, scheduled.departure_date) == ("pl-1", dt.date(2026, 8, 28))
    assert {e.subject_id for e in events} == {"vol-1"}
    assert events[-1].causation_id == events[-2].causation_id == checklist[-1].event_id


@pytest.mark.parametrize("missing", list(Item))
def test_the_contract_is_not_signed_while_one_item_is_missing(missing: Item) -> None:
    checklist = [f for f in facts() if rules.ITEM_OF[type(f)] is not missing]
    state, events = drive([confirmed(), *checklist])
    assert state is not None and state.status is Status.PREPARING
    assert missing not in state.checklist.done
    assert "ContractSigned" not in types(events)


@pytest.mark.parametrize("early", [1, 3, 7, 8])
def test_facts_before_the_placement_are_kept_and_weighed_when_it_is_confirmed(early: int) -> None:
    checklist = facts()
    waiting, before = drive(checklist[:early])
    assert waiting is not None and waiting.status is Status.AWAITING_PLACEMENT and before == []
    opened, on_confirmation = drive([confirmed()], waiting)
    done_early = [rules.ITEM_OF[type(f)] for f in checklist[:early]]
    assert types(on_confirmation[:1]) == ["ChecklistOpened"]
    assert [e.item for e in on_confirmation if isinstance(e, ChecklistItemDone)] == done_early
    final, later = drive(checklist[early:], opened)
    assert final is not None and final.status is Status.SCHEDULED
    everything = types(on_confirmation + later)
    assert everything.count("ChecklistItemDone") == 8
    assert everything[-2:] == ["ContractSigned", "DepartureScheduled"]


def test_a_passport_expiring_too_early_is_refused_and_a_later_check_can_fix_it() -> None:
    state = at(Status.PREPARING)
    short = facts(passport_expires_on=PASSPORT_LIMIT - dt.timedelta(days=1))[2]
    unchanged, events = decide(state, short)
    assert unchanged == state
    assert refused_because(events) == "passport expires less than 6 months after the planned return"
    fixed, events = decide(state, facts(passport_expires_on=PASSPORT_LIMIT)[2])
    assert fixed is not None and Item.PASSPORT in fixed.checklist.done
    assert [e.item for e in events if isinstance(e, ChecklistItemDone)] == [Item.PASSPORT]


def test_a_short_passport_reported_before_the_placement_is_refused_when_it_is_confirmed() -> None:
    short = facts(passport_expires_on=PASSPORT_LIMIT - dt.timedelta(days=1))[2]
    assert isinstance(short, PassportChecked)
    state, events = drive([facts()[0], short, confirmed()])
    assert state is not None and state.status is Status.PREPARING
    assert state.checklist.done == (Item.TRAINING,)
    assert state.checklist.pending_passport is None  # the expiry date is not kept once weighed
    refused = events[-1]
    assert isinstance(refused, TransitionRefused)
    assert (refused.refused_event_id, refused.refused_event_type) == (short.event_id, "PassportChecked")
    assert refused.reason == rules.PASSPORT_TOO_SHORT


FAILURES = [({"visa_granted": False}, 3, R.VISA_REFUSED), ({"fit": False}, 1, R.MEDICALLY_UNFIT)]


@pytest.mark.parametrize(("overrides", "index", "reason"), FAILURES)
@pytest.mark.parametrize("status", [Status.PREPARING, Status.SCHEDULED])
def test_a_refused_visa_or_failed_medical_cancels_an_open_departure(
    overrides: dict[str, bool], index: int, reason: str, status: Status
) -> None:
    state, events = decide(at(status), facts(**overrides)[index])
    assert state is not None and state.status is Status.CANCELLED
    assert len(events) == 1 and isinstance(events[0], DepartureCancelled)
    assert (events[0].placement_id, events[0].reason) == ("pl-1", reason)


@pytest.mark.parametrize(("overrides", "index", "reason"), FAILURES)
def test_a_failure_before_the_placement_cancels_it_as_soon_as_it_is_confirmed(
    overrides: dict[str, bool], index: int, reason: str
) -> None:
    waiting, before = drive(facts(**overrides)[: index + 1])
    assert waiting is not None and waiting.status is Status.AWAITING_PLACEMENT and before == []
    state, events = decide(waiting, confirmed("pl-7"))
    assert state is not None and state.status is Status.CANCELLED
    assert len(events) == 1 and isinstance(events[0], DepartureCancelled)
    assert (events[0].placement_id, events[0].reason) == ("pl-7", reason)


@pytest.mark.parametrize(("overrides", "index", "reason"), FAILURES)
def test_a_case_saved_with_a_reason_in_words_cancels_with_its_code(
    overrides: dict[str, bool], index: int, reason: str
) -> None:
    waiting, _ = drive(facts(**overrides)[: index + 1])
    assert waiting is not None
    worded = {R.VISA_REFUSED: "visa refused", R.MEDICALLY_UNFIT: "medical check failed"}[reason]  # type: ignore[index]
    _, events = decide(msgspec.structs.replace(waiting, cancel_reason=worded), confirmed("pl-7"))
    assert events[0].reason == reason  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (Status.NEW, Status.AWAITING_PLACEMENT),
        (Status.AWAITING_PLACEMENT, Status.AWAITING_PLACEMENT),
        (Status.PREPARING, Status.CANCELLED),
        (Status.SCHEDULED, Status.CANCELLED),
        (Status.CANCELLED, Status.CANCELLED),
        (Status.DEPARTED, None),
        (Status.ARRIVED, None),
    ],
)
def test_a_withdrawal_cancels_a_departure_not_yet_taken(status: Status, outcome: Status | None) -> None:
    state = at(status)
    new_state, events = decide(state, withdrawn())
    if outcome is None:
        assert new_state == state
        assert refused_because(events) == f"a {status.value} departure cannot become cancelled"
    elif status in (Status.PREPARING, Status.SCHEDULED):
        assert new_state is not None and new_state.status is outcome
        assert len(events) == 1 and isinstance(events[0], DepartureCancelled)
        assert events[0].reason == R.VOLUNTEER_WITHDREW
    else:  # remembered until a placement is confirmed, or already cancelled
        assert new_state is not None and new_state.status is outcome and events == []


def test_a_withdrawal_before_the_placement_cancels_it_on_confirmation_without_opening_it() -> None:
    state, events = drive([withdrawn(), facts()[0], confirmed()])
    assert state is not None and state.status is Status.CANCELLED
    assert types(events) == ["DepartureCancelled"]
    assert events[0].reason == R.VOLUNTEER_WITHDREW  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (Status.NEW, Status.NEW),
        (Status.AWAITING_PLACEMENT, Status.AWAITING_PLACEMENT),
        (Status.PREPARING, Status.CANCELLED),
        (Status.SCHEDULED, Status.CANCELLED),
        (Status.CANCELLED, Status.CANCELLED),
        (Status.DEPARTED, None),
        (Status.ARRIVED, None),
    ],
)
def test_placement_cancelling_the_confirmed_placement_stops_the_departure_silently(
    status: Status, outcome: Status | None
) -> None:
    state = at(status)
    new_state, events = decide(state, placement_cancelled())
    if outcome is None:
        assert new_state == state
        assert refused_because(events) == f"a {status.value} departure cannot become cancelled"
    else:
        assert (new_state.status if new_state else Status.NEW) is outcome and events == []


def test_cancelling_another_placement_of_the_same_application_changes_nothing() -> None:
    state = at(Status.PREPARING)
    assert decide(state, placement_cancelled("pl-0")) == (state, [])


@pytest.mark.parametrize("status", list(Status))
def test_the_volunteer_departs_only_once_the_contract_is_signed(status: Status) -> None:
    state = at(status)
    new_state, events = decide(state, samples.departed(APPLICATION))
    if status is Status.SCHEDULED:
        assert new_state is not None and new_state.status is Status.DEPARTED
        assert len(events) == 1 and isinstance(events[0], VolunteerDeparted)
        assert events[0].placement_id == "pl-1"
        return
    assert new_state == state
    expected = f"a {status.value} departure cannot become departed"
    if status in (Status.NEW, Status.AWAITING_PLACEMENT, Status.PREPARING):
        expected = "cannot depart before the contract is signed"
    assert refused_because(events) == expected


@pytest.mark.parametrize("status", list(Status))
def test_the_host_confirms_arrival_only_after_departure(status: Status) -> None:
    state = at(status)
    new_state, events = decide(state, samples.arrived(APPLICATION))
    if status is Status.DEPARTED:
        assert new_state is not None and new_state.status is Status.ARRIVED
        assert len(events) == 1 and isinstance(events[0], ArrivalConfirmed)
        return
    assert new_state == state
    assert refused_because(events) == f"a {status.value} departure cannot become arrived"


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.ARRIVED, Status.ENDED, Status.CLOSED])
@pytest.mark.parametrize("index", range(8))
def test_every_checklist_fact_after_cancellation_or_arrival_is_refused(status: Status, index: int) -> None:
    state = at(status)
    fact = facts()[index]
    new_state, events = decide(state, fact)
    assert new_state == state
    if isinstance(fact, dep.PassportChecked) and status is Status.ARRIVED:  # on site: only a renewal
        assert (
            refused_because(events)
            == "the passport recorded expires on 2031-01-01: a renewed one expires later"
        )
    else:
        assert refused_because(events).startswith(f"a {status.value} departure cannot become")


@pytest.mark.parametrize("status", [Status.PREPARING, Status.SCHEDULED, Status.DEPARTED])
@pytest.mark.parametrize("index", range(8))
def test_a_repeated_checklist_fact_emits_nothing(status: Status, index: int) -> None:
    fact = facts()[index]
    state, _ = decide(at(status), fact)
    assert state is not None and rules.ITEM_OF[type(fact)] in state.checklist.done
    assert decide(state, again(fact)) == (state, [])


IGNORED = [
    event
    for topic, event in EXAMPLES
    if topic in (Topic.PLACEMENT_EVENTS, Topic.APPLICATION_EVENTS) and not isinstance(event, Concerned)
]


@pytest.mark.parametrize("event", IGNORED, ids=lambda e: e.event_type)
@pytest.mark.parametrize("status", [Status.NEW, Status.PREPARING])
def test_upstream_events_departure_does_not_act_on_are_ignored(event: Event, status: Status) -> None:
    state = at(status)
    assert decide(state, event) == (state, [])


def test_a_second_confirmation_of_the_same_placement_emits_nothing_but_another_placement_is_refused() -> None:
    state = at(Status.PREPARING)
    assert decide(state, confirmed()) == (state, [])
    unchanged, events = decide(state, confirmed("pl-2"))
    assert unchanged == state
    assert refused_because(events) == "the departure already follows placement pl-1"


def test_opening_emits_the_checklist_with_the_placement_and_keeps_the_planned_return() -> None:
    event = confirmed()
    state, events = decide(None, event)
    assert state is not None and state.checklist.planned_return == PLANNED_RETURN
    assert len(events) == 1 and isinstance(events[0], ChecklistOpened)
    assert (events[0].placement_id, events[0].causation_id, events[0].correlation_id) == (
        "pl-1",
        event.event_id,
        event.event_id,
    )
