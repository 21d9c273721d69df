"""The application state machine: completeness checks, de-duplication outcome, withdrawal. No I/O."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from shared.aggregates import erased
from shared.contracts.application import (
    ApplicationReceived,
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    ErasureCompleted,
    ErasureRequested,
    WithdrawalRequested,
)
from shared.contracts.envelope import Event, caused_by
from shared.contracts.reasons import ReasonCode
from shared.contracts.types import Scheme
from shared.dates import age_at
from shared.statemachine import StateMachine, TransitionError, refusal

PRODUCER = "application"
# Documents the agency asks of every applicant.
REQUIRED_DOCUMENTS = frozenset({"identity-document", "cv", "motivation-letter"})
# docs/domain.md, 'Programmes': a minor (service civique from 16, in France) needs their parents' consent.
PARENTAL_AUTHORISATION = "parental-authorisation"
AGE_OF_MAJORITY = 18


class Status(StrEnum):
    """Where an application stands."""

    NEW = "new"  # never seen: the state before the first event
    RECEIVED = "received"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.RECEIVED, Status.REJECTED}),
    Status.RECEIVED: frozenset({Status.WITHDRAWN}),
    Status.REJECTED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}
MACHINE = StateMachine("application", TRANSITIONS)


class Application(msgspec.Struct, frozen=True, kw_only=True):
    """What the application service keeps of an application."""

    status: Status
    volunteer_id: str
    scheme: Scheme


class Erasure(msgspec.Struct, frozen=True, kw_only=True):
    """A volunteer's latest erasure request, kept under their id: no application they submitted before it
    may be re-created (a copy of their submission replayed, or one late from another topic)."""

    request: ErasureRequested


def erasure(state: Erasure | None, event: ErasureRequested) -> Erasure:
    """The volunteer's erasure once `event` is noted: the latest request counts."""
    if state is not None and state.request.occurred_at >= event.occurred_at:
        return state
    return Erasure(request=event)


def erase(event: ErasureRequested, application_id: str, state: Application | None) -> tuple[Any, list[Event]]:
    """Erase one application of the volunteer: a tombstone that keeps what releases its claim (the
    volunteer id and the scheme, no personal value), and the news for the services downstream."""
    return erased(state), [ErasureCompleted(**caused_by(event, PRODUCER), application_id=application_id)]


def erased_by(submitted: ApplicationSubmitted, erasure: Erasure | None) -> ErasureRequested | None:
    """The erasure request a submission falls under (stated before it), or None."""
    if erasure is not None and submitted.occurred_at <= erasure.request.occurred_at:
        return erasure.request
    return None


def problems(submitted: ApplicationSubmitted) -> list[str]:
    """Return what makes a submitted form incomplete or inconsistent (empty when it is sound)."""
    wishes, volunteer = submitted.wishes, submitted.volunteer
    found = []
    if wishes.available_until <= wishes.available_from:
        found.append("availability ends before it starts")
    if volunteer.birth_date >= submitted.occurred_at.date():
        found.append("birth date is not in the past")
    if wishes.available_from < submitted.occurred_at.date():
        found.append("availability starts in the past")
    missing = sorted(REQUIRED_DOCUMENTS - set(submitted.documents))
    if minor(submitted) and PARENTAL_AUTHORISATION not in submitted.documents:
        missing.append(f"{PARENTAL_AUTHORISATION} (a minor when the availability starts)")
    if missing:
        found.append(f"missing documents: {', '.join(missing)}")
    if not wishes.languages:
        found.append("no language given")
    return found


def minor(submitted: ApplicationSubmitted) -> bool:
    """Tell whether the volunteer is under 18 on the first day they are available (a mission cannot start
    earlier), so needs a parental authorisation."""
    return age_at(submitted.volunteer.birth_date, submitted.wishes.available_from) < AGE_OF_MAJORITY


Decision = tuple[Application | None, list[Event]]


def decide(state: Application | None, event: Event, *, duplicate: bool = False) -> Decision:
    """Return the new state and the events that `event` causes; a forbidden transition is refused."""
    status = state.status if state else Status.NEW
    try:
        if isinstance(event, ApplicationSubmitted):
            return _submit(status, event, duplicate)
        if isinstance(event, WithdrawalRequested):
            if state is None:
                raise TransitionError("no such application")
            withdrawn = msgspec.structs.replace(state, status=MACHINE.to(status, Status.WITHDRAWN))
            return withdrawn, [
                ApplicationWithdrawn(
                    **caused_by(event, PRODUCER),
                    application_id=event.application_id,
                    reason=ReasonCode.VOLUNTEER_WITHDREW,  # their own words stay on the intake topic
                )
            ]
    except TransitionError as error:
        return state, [refusal(event, PRODUCER, status, str(error))]
    return state, [refusal(event, PRODUCER, status, "not an event for the application service")]


def _submit(status: Status, event: ApplicationSubmitted, duplicate: bool) -> Decision:
    reasons = problems(event)
    if duplicate:
        reasons.append("an open application exists for this volunteer and scheme")
    target = MACHINE.to(status, Status.REJECTED if reasons else Status.RECEIVED)
    application = Application(
        status=target, volunteer_id=event.volunteer.volunteer_id, scheme=event.wishes.scheme
    )
    envelope = caused_by(event, PRODUCER)
    if reasons:
        return application, [
            ApplicationRejected(**envelope, application_id=event.application_id, reasons=tuple(reasons))
        ]
    received = ApplicationReceived(
        **envelope, application_id=event.application_id, volunteer=event.volunteer, wishes=event.wishes
    )
    return application, [received]
