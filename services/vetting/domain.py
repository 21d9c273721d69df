"""The vetting case of one application: eligibility plus screening checks, in any order. No I/O."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import msgspec

from services.vetting.rules import Candidate, ineligibility, mission_limits
from shared.aggregates import erased
from shared.contracts import reasons
from shared.contracts.application import ApplicationReceived, ApplicationWithdrawn, ErasureCompleted
from shared.contracts.envelope import Event, caused_by
from shared.contracts.vetting import (
    Check,
    ScreeningDeadlinePassed,
    ScreeningReported,
    VettingCleared,
    VettingRefused,
)
from shared.statemachine import StateMachine, TransitionError, erasure_completed, refusal

PRODUCER = "vetting"


class Status(StrEnum):
    """Where a vetting case stands."""

    NEW = "new"  # never seen: the state before the first event
    AWAITING_APPLICATION = "awaiting-application"  # screening facts came before the application
    SCREENING = "screening"  # eligible, some checks still pending
    CLEARED = "cleared"
    REFUSED = "refused"
    CANCELLED = "cancelled"  # the volunteer withdrew


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.AWAITING_APPLICATION, Status.SCREENING, Status.REFUSED, Status.CANCELLED}),
    Status.AWAITING_APPLICATION: frozenset(
        {Status.AWAITING_APPLICATION, Status.SCREENING, Status.CLEARED, Status.REFUSED, Status.CANCELLED}
    ),
    Status.SCREENING: frozenset({Status.SCREENING, Status.CLEARED, Status.REFUSED, Status.CANCELLED}),
    Status.CLEARED: frozenset({Status.CANCELLED}),
    Status.REFUSED: frozenset(),
    Status.CANCELLED: frozenset(),
}
MACHINE = StateMachine("vetting case", TRANSITIONS)
# A decided or cancelled case needs nothing more of the volunteer: it keeps only its status.
CLOSED = frozenset({Status.CLEARED, Status.REFUSED, Status.CANCELLED})


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """The latest outcome of one check."""

    check: Check
    passed: bool
    valid_until: dt.date


class Case(msgspec.Struct, frozen=True, kw_only=True):
    """What vetting keeps of an application while it is undecided."""

    status: Status
    candidate: Candidate | None = None  # None until ApplicationReceived arrives
    reports: tuple[Report, ...] = ()  # at most one per check, in Check order


def pending(reports: tuple[Report, ...]) -> list[Check]:
    """Return the checks not reported yet, in Check order."""
    reported = {report.check for report in reports}
    return [check for check in Check if check not in reported]


def screening_problems(reports: tuple[Report, ...], starts_on: dt.date | None) -> list[str]:
    """Return the codes of failed checks, and of passed checks expiring before the start (when the start is
    known)."""
    found = []
    for report in reports:
        if not report.passed:
            found.append(reasons.check_failed(report.check))
        elif starts_on is not None and report.valid_until < starts_on:
            found.append(reasons.check_expires_early(report.check))
    return found


Decision = tuple[Case | None, list[Event]]


def decide(state: Case | None, event: Event) -> Decision:
    """Return the new case and the events `event` causes; a late screening fact is refused."""
    status = state.status if state else Status.NEW
    candidate = state.candidate if state else None
    reports = state.reports if state else ()
    if isinstance(event, ErasureCompleted):  # the application erased: so is the case, whatever it holds
        return erased(), [erasure_completed(event, PRODUCER)]
    if isinstance(event, ApplicationReceived):
        if status not in (Status.NEW, Status.AWAITING_APPLICATION):
            return state, []  # the application is known already: nothing to apply
        return _evaluate(status, event, Candidate.of(event.volunteer, event.wishes), reports)
    if isinstance(event, ApplicationWithdrawn):
        if Status.CANCELLED not in TRANSITIONS[status]:
            return state, []  # refused or cancelled already: a withdrawal changes nothing
        return Case(status=MACHINE.to(status, Status.CANCELLED)), []
    if isinstance(event, ScreeningReported | ScreeningDeadlinePassed):
        try:
            if status in CLOSED:
                raise TransitionError(f"a {status.value} vetting case takes no more screening facts")
            if isinstance(event, ScreeningReported):
                return _evaluate(status, event, candidate, _replacing(reports, event))
            return _evaluate(status, event, candidate, reports, at_deadline=True)
        except TransitionError as error:
            return state, [refusal(event, PRODUCER, status, str(error))]
    return state, []  # ApplicationRejected, TransitionRefused: not vetting's business


def _replacing(reports: tuple[Report, ...], event: ScreeningReported) -> tuple[Report, ...]:
    """Return the reports with `event` replacing any older report of the same check."""
    latest = Report(check=event.check, passed=event.passed, valid_until=event.valid_until)
    by_check = {report.check: report for report in reports} | {event.check: latest}
    return tuple(by_check[check] for check in Check if check in by_check)


def _evaluate(
    status: Status,
    event: ApplicationReceived | ScreeningReported | ScreeningDeadlinePassed,
    candidate: Candidate | None,
    reports: tuple[Report, ...],
    *,
    at_deadline: bool = False,
) -> Decision:
    """Decide what the known facts allow: refuse on any reason, clear when nothing is pending, else wait."""
    missing = pending(reports)
    found: list[str] = list(ineligibility(candidate)) if candidate else []
    found += screening_problems(reports, candidate.available_from if candidate else None)
    if at_deadline:
        found += [reasons.check_pending(check) for check in missing]
    if found:
        target = Status.REFUSED
    elif candidate is None:
        target = Status.AWAITING_APPLICATION
    else:
        target = Status.SCREENING if missing else Status.CLEARED
    target = MACHINE.to(status, target)
    envelope, application_id = caused_by(event, PRODUCER), event.application_id
    if target is Status.REFUSED:
        return Case(status=target), [
            VettingRefused(**envelope, application_id=application_id, reasons=tuple(found))
        ]
    if target is Status.CLEARED and candidate is not None:
        valid_until = min(report.valid_until for report in reports)
        limits = msgspec.structs.replace(mission_limits(candidate), checks_valid_until=valid_until)
        return Case(status=target), [VettingCleared(**envelope, application_id=application_id, limits=limits)]
    return Case(status=target, candidate=candidate, reports=reports), []
