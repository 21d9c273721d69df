"""The departure state machine: checklist, contract, departure, arrival, cancellation. No I/O.

docs/domain.md, 'The lifecycle' 4: a confirmed placement opens the checklist; the contract is signed only
when it is complete; then departure is scheduled, the volunteer departs and the host confirms arrival.
A refused visa or a failed medical cancels the departure, which releases the seat in placement.
Facts may come before the placement is confirmed (other topics): they are kept and weighed then.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec
from msgspec.structs import replace

from services.departure import rules
from services.departure.rules import Checklist
from shared.contracts import departure as dep
from shared.contracts.application import ApplicationWithdrawn, TransitionRefused
from shared.contracts.envelope import Event, caused_by
from shared.contracts.placement import PlacementCancelled, PlacementConfirmed
from shared.statemachine import StateMachine, TransitionError, refusal

PRODUCER = "departure"


class Status(StrEnum):
    """Where a departure case stands."""

    NEW = "new"  # never seen: the state before the first event
    AWAITING_PLACEMENT = "awaiting-placement"  # facts came before the placement was confirmed
    PREPARING = "preparing"  # the checklist is open
    SCHEDULED = "scheduled"  # the contract is signed, the departure date set
    DEPARTED = "departed"
    ARRIVED = "arrived"
    CANCELLED = "cancelled"


# A self-loop means "records a fact without changing status".
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.AWAITING_PLACEMENT, Status.PREPARING}),
    Status.AWAITING_PLACEMENT: frozenset({Status.AWAITING_PLACEMENT, Status.PREPARING, Status.CANCELLED}),
    Status.PREPARING: frozenset({Status.PREPARING, Status.SCHEDULED, Status.CANCELLED}),
    Status.SCHEDULED: frozenset({Status.DEPARTED, Status.CANCELLED}),
    Status.DEPARTED: frozenset({Status.ARRIVED}),
    Status.ARRIVED: frozenset(),
    Status.CANCELLED: frozenset(),
}
MACHINE = StateMachine("departure", TRANSITIONS)
BEFORE_CONTRACT = (Status.NEW, Status.AWAITING_PLACEMENT, Status.PREPARING)
CLOSED = (Status.CANCELLED, Status.ARRIVED)
# Everything departure acts on; any other upstream event is ignored.
Concerned = PlacementConfirmed | PlacementCancelled | ApplicationWithdrawn | dep.DepartureFact


class Departure(msgspec.Struct, frozen=True, kw_only=True):
    """A departure case: its status, the confirmed placement and the checklist."""

    status: Status
    placement_id: str | None = None
    checklist: Checklist = msgspec.field(default_factory=Checklist)
    cancel_reason: str | None = None  # a visa refusal, failed medical or withdrawal seen before the placement


NEW_CASE = Departure(status=Status.NEW)
Decision = tuple[Departure | None, list[Event]]


def decide(state: Departure | None, event: Event) -> Decision:
    """Return the new state and the events `event` causes; a forbidden transition is refused."""
    if not isinstance(event, Concerned):
        return state, []  # not an event departure acts on
    case = state or NEW_CASE
    try:
        if isinstance(event, PlacementConfirmed):
            return _confirm(case, event)
        if isinstance(event, PlacementCancelled):
            return _placement_cancelled(state, event)
        if isinstance(event, ApplicationWithdrawn):
            return (state, []) if case.status is Status.CANCELLED else _stop(case, event, rules.WITHDRAWN)
        if isinstance(event, dep.DepartureTaken):
            if case.status in BEFORE_CONTRACT:
                raise TransitionError(rules.NOT_SIGNED)
            return _move(case, event, Status.DEPARTED, dep.VolunteerDeparted)
        if isinstance(event, dep.ArrivalReported):
            return _move(case, event, Status.ARRIVED, dep.ArrivalConfirmed)
        return _fact(case, event)
    except TransitionError as error:
        return state, [refusal(event, PRODUCER, case.status, str(error))]


def _confirm(case: Departure, event: PlacementConfirmed) -> Decision:
    if case.placement_id == event.placement_id:
        return case, []  # the same confirmation again
    if case.placement_id is not None:
        raise TransitionError(f"the departure already follows placement {case.placement_id}")
    ids = _envelope(event)
    if case.cancel_reason:  # a visa refusal, failed medical or withdrawal came first: release the seat now
        cancelled = replace(case, status=MACHINE.to(case.status, Status.CANCELLED))
        return replace(cancelled, placement_id=event.placement_id), [
            dep.DepartureCancelled(**ids, placement_id=event.placement_id, reason=case.cancel_reason)
        ]
    checklist, refused_passport = case.checklist.opened(event.end_date)
    opened = replace(
        case,
        status=MACHINE.to(case.status, Status.PREPARING),
        placement_id=event.placement_id,
        checklist=checklist,
    )
    events: list[Event] = [dep.ChecklistOpened(**ids, placement_id=event.placement_id)]
    events += [dep.ChecklistItemDone(**ids, item=item) for item in checklist.done]
    if refused_passport:
        events.append(_passport_refused(event, refused_passport))
    return _schedule_if_complete(opened, event, events)


def _fact(case: Departure, fact: dep.DepartureFact) -> Decision:
    reason = rules.failure(fact)
    if reason:
        return _stop(case, fact, reason)
    item = rules.ITEM_OF[type(fact)]
    if item in case.checklist.done and case.status not in CLOSED:
        return case, []  # already done: nothing new
    status = MACHINE.to(case.status, Status.PREPARING if case.placement_id else Status.AWAITING_PLACEMENT)
    if not case.checklist.accepts(fact):
        raise TransitionError(rules.PASSPORT_TOO_SHORT)
    updated = replace(case, status=status, checklist=case.checklist.recording(fact))
    if case.placement_id is None:
        return updated, []  # weighed when the placement is confirmed
    return _schedule_if_complete(updated, fact, [dep.ChecklistItemDone(**_envelope(fact), item=item)])


def _schedule_if_complete(case: Departure, cause: Concerned, events: list[Event]) -> Decision:
    """Sign the contract and schedule departure once every item is done (docs/domain.md, lifecycle 4)."""
    date = case.checklist.departure_date
    if not case.checklist.complete:
        return case, events
    assert case.placement_id is not None and date is not None  # travel is booked
    ids = _envelope(cause, placement_id=case.placement_id)
    signed = dep.ContractSigned(**ids)
    scheduled = dep.DepartureScheduled(**ids, departure_date=date)
    return replace(case, status=MACHINE.to(case.status, Status.SCHEDULED)), [*events, signed, scheduled]


def _stop(case: Departure, cause: Concerned, reason: str) -> Decision:
    """Cancel the departure, or remember why it must be cancelled once the placement is confirmed."""
    if case.placement_id is None:
        awaiting = MACHINE.to(case.status, Status.AWAITING_PLACEMENT)
        return replace(case, status=awaiting, cancel_reason=case.cancel_reason or reason), []
    cancelled = replace(case, status=MACHINE.to(case.status, Status.CANCELLED))
    return cancelled, [
        dep.DepartureCancelled(**_envelope(cause, placement_id=case.placement_id), reason=reason)
    ]


def _placement_cancelled(state: Departure | None, event: PlacementCancelled) -> Decision:
    """Stop when placement cancels the confirmed placement; it knows already, so nothing is emitted."""
    if state is None or state.placement_id != event.placement_id or state.status is Status.CANCELLED:
        return state, []  # a declined proposal, or the echo of our own cancellation
    return replace(state, status=MACHINE.to(state.status, Status.CANCELLED)), []


def _move(
    case: Departure,
    cause: Concerned,
    target: Status,
    made: type[dep.VolunteerDeparted | dep.ArrivalConfirmed],
) -> Decision:
    moved = replace(case, status=MACHINE.to(case.status, target))
    assert case.placement_id is not None  # every status that may move here has a placement
    return moved, [made(**_envelope(cause, placement_id=case.placement_id))]


def _passport_refused(cause: Event, passport_event_id: str) -> TransitionRefused:
    """Refuse, once the return date is known, a passport reported before the placement."""
    return TransitionRefused(
        **caused_by(cause, PRODUCER),
        refused_event_id=passport_event_id,
        refused_event_type=str(dep.PassportChecked.__struct_config__.tag),
        status=Status.PREPARING.value,
        reason=rules.PASSPORT_TOO_SHORT,
    )


def _envelope(cause: Concerned, **fields: Any) -> dict[str, Any]:
    """Envelope and ids of an event caused by `cause`: same volunteer, correlation and application."""
    return {**caused_by(cause, PRODUCER), "application_id": cause.application_id, **fields}
