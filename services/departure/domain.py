"""The departure state machine: checklist, contract, departure, arrival, the mission, return. No I/O.

docs/domain.md, 'The lifecycle' 4: a confirmed placement opens the checklist; the contract is signed only
when it is complete; then departure is scheduled, the volunteer departs and the host confirms arrival.
A refused visa or a failed medical cancels the departure, which releases the seat in placement.
Facts may come before the placement is confirmed (other topics): they are kept and weighed then.
6 and 7: on site, the civic training and the follow-up interviews are recorded, the mission may be
extended, ended early with notice (it goes on until the notified last day, then ends and frees the seat in
placement) or cut short by a repatriation, or it ends on its last day; the volunteer comes back, and the
case closes once they are back, the end interview is held and the end-of-mission report handed in.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import msgspec
from msgspec.structs import replace

from services.departure import rules
from services.departure.rules import Checklist, Mission
from shared.aggregates import erased
from shared.contracts import departure as dep
from shared.contracts import reasons
from shared.contracts.application import ApplicationWithdrawn, ErasureCompleted, TransitionRefused
from shared.contracts.envelope import Event, caused_by
from shared.contracts.intake import not_the_host
from shared.contracts.placement import Party, PlacementCancelled, PlacementConfirmed
from shared.contracts.reasons import ReasonCode
from shared.statemachine import StateMachine, TransitionError, erasure_completed, refusal

PRODUCER = "departure"


class Status(StrEnum):
    """Where a departure case stands."""

    NEW = "new"  # never seen: the state before the first event
    AWAITING_PLACEMENT = "awaiting-placement"  # facts came before the placement was confirmed
    PREPARING = "preparing"  # the checklist is open
    SCHEDULED = "scheduled"  # the contract is signed, the departure date set
    DEPARTED = "departed"
    ARRIVED = "arrived"  # on site: the mission is under way
    ENDING = "ending"  # still on site, an early end notified
    ENDED = "ended"  # the mission is over (completed, ended early, or a repatriation)
    RETURNED = "returned"  # back home, the end interview not held yet
    CLOSED = "closed"  # back home and the end interview held
    CANCELLED = "cancelled"


# A self-loop means "records a fact without changing status".
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.AWAITING_PLACEMENT, Status.PREPARING}),
    Status.AWAITING_PLACEMENT: frozenset({Status.AWAITING_PLACEMENT, Status.PREPARING, Status.CANCELLED}),
    Status.PREPARING: frozenset({Status.PREPARING, Status.SCHEDULED, Status.CANCELLED}),
    Status.SCHEDULED: frozenset({Status.DEPARTED, Status.CANCELLED}),
    Status.DEPARTED: frozenset({Status.ARRIVED}),
    Status.ARRIVED: frozenset(
        {Status.ARRIVED, Status.ENDING, Status.ENDED}
    ),  # training, interviews, extension
    Status.ENDING: frozenset({Status.ENDING, Status.ENDED}),  # training, interviews
    Status.ENDED: frozenset({Status.ENDED, Status.RETURNED}),  # the end interview, the report
    Status.RETURNED: frozenset({Status.RETURNED, Status.CLOSED}),  # the end interview or the report closes
    Status.CLOSED: frozenset(),
    Status.CANCELLED: frozenset(),
}
MACHINE = StateMachine("departure", TRANSITIONS)
BEFORE_CONTRACT = (Status.NEW, Status.AWAITING_PLACEMENT, Status.PREPARING)
ON_SITE = (Status.ARRIVED, Status.ENDING)
ON_SITE_OR_AFTER = (*ON_SITE, Status.ENDED, Status.RETURNED, Status.CLOSED)
PAST_THE_CHECKLIST = (Status.CANCELLED, *ON_SITE_OR_AFTER)
# Everything departure acts on; any other upstream event is ignored.
Concerned = (
    PlacementConfirmed
    | PlacementCancelled
    | ApplicationWithdrawn
    | ErasureCompleted
    | dep.DepartureFact
    | dep.MissionFact
)


class Departure(msgspec.Struct, frozen=True, kw_only=True):
    """A departure case: its status, the confirmed placement and the checklist."""

    status: Status
    placement_id: str | None = None
    checklist: Checklist = msgspec.field(default_factory=Checklist)
    cancel_reason: str | None = None  # a visa refusal, failed medical or withdrawal seen before the placement
    mission: Mission | None = None  # known once the placement is confirmed
    host: str | None = None  # the placement's host organisation: its facts about the mission, it alone states


class Hosted(msgspec.Struct, frozen=True, kw_only=True):
    """A placement as the departure service finds it by its id, for its host's reports by that id
    (`PlacementReported`): the case that follows it, once its confirmation is known, and the reports that
    came before (kept until then: the confirmation comes on another topic, and may be late)."""

    application_id: str | None = None
    volunteer_id: str | None = None
    early: tuple[dep.PlacementReported, ...] = ()

    @property
    def known(self) -> bool:
        """Tell whether the confirmation is known: its case is the one reports reach."""
        return self.application_id is not None


MAX_EARLY_REPORTS = 8  # the reports kept for a placement whose confirmation is not known (a sender's bound)


NEW_CASE = Departure(status=Status.NEW)
Decision = tuple[Departure | None, list[Event]]


def decide(state: Departure | None, event: Event) -> Decision:
    """Return the new state and the events `event` causes; a forbidden transition is refused."""
    if not isinstance(event, Concerned):
        return state, []  # not an event departure acts on
    if isinstance(event, ErasureCompleted):  # erased upstream: a tombstone, whatever the case holds
        return erased(), [erasure_completed(event, PRODUCER)]
    case = state or NEW_CASE
    try:
        if case.host is not None and (stranger := not_the_host(event.producer, case.host)) is not None:
            raise TransitionError(stranger)
        if isinstance(event, PlacementConfirmed):
            return _confirm(case, event)
        if isinstance(event, PlacementCancelled):
            return _placement_cancelled(state, event)
        if isinstance(event, ApplicationWithdrawn):
            return (
                (state, [])
                if case.status is Status.CANCELLED
                else _stop(case, event, ReasonCode.VOLUNTEER_WITHDREW)
            )
        if isinstance(event, dep.DepartureTaken):
            if case.status in BEFORE_CONTRACT:
                raise TransitionError(rules.NOT_SIGNED)
            return _move(case, event, Status.DEPARTED, dep.VolunteerDeparted)
        if isinstance(event, dep.ArrivalReported):
            return _move(case, event, Status.ARRIVED, dep.ArrivalConfirmed)
        if isinstance(event, dep.MissionFact):
            return _on_site(case, event)
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
        return replace(cancelled, placement_id=event.placement_id, host=event.host_organisation), [
            dep.DepartureCancelled(
                **ids, placement_id=event.placement_id, reason=rules.coded(case.cancel_reason)
            )
        ]
    checklist, refused_passport = case.checklist.opened(event.end_date)
    mission = Mission(
        scheme=event.scheme, start_date=event.start_date, end_date=event.end_date, max_months=event.max_months
    )
    opened = replace(
        case,
        status=MACHINE.to(case.status, Status.PREPARING),
        placement_id=event.placement_id,
        checklist=checklist,
        mission=mission,
        host=event.host_organisation,
    )
    events: list[Event] = [dep.ChecklistOpened(**ids, placement_id=event.placement_id)]
    events += [dep.ChecklistItemDone(**ids, item=item) for item in checklist.done]
    if refused_passport:
        events.append(_passport_refused(event, refused_passport))
    return _schedule_if_complete(opened, event, events)


def _fact(case: Departure, fact: dep.DepartureFact) -> Decision:
    if isinstance(fact, dep.PassportChecked) and case.status in ON_SITE:
        return _passport_renewed(case, fact)
    reason = rules.failure(fact)
    if reason:
        return _stop(case, fact, reason)
    item = rules.ITEM_OF[type(fact)]
    if item in case.checklist.done and case.status not in PAST_THE_CHECKLIST:
        return case, []  # already done: nothing new
    status = MACHINE.to(case.status, Status.PREPARING if case.placement_id else Status.AWAITING_PLACEMENT)
    if not case.checklist.accepts(fact):
        raise TransitionError(rules.PASSPORT_TOO_SHORT)
    updated = replace(case, status=status, checklist=case.checklist.recording(fact))
    if case.placement_id is None:
        return updated, []  # weighed when the placement is confirmed
    return _schedule_if_complete(updated, fact, [dep.ChecklistItemDone(**_envelope(fact), item=item)])


def _passport_renewed(case: Departure, fact: dep.PassportChecked) -> Decision:
    """On site, a renewed passport is recorded (silently, as a checklist item done already) if it expires
    later than the one recorded: an extension must leave it valid 6 months after the new return."""
    recorded = case.checklist.passport_expires_on
    if recorded is not None and fact.expires_on <= recorded:
        raise TransitionError(f"the passport recorded expires on {recorded}: a renewed one expires later")
    return replace(case, checklist=replace(case.checklist, passport_expires_on=fact.expires_on)), []


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
    if case.status is target:  # a self-loop records a fact; a second arrival is not one
        raise TransitionError(f"a {case.status.value} departure cannot become {target.value}")
    moved = replace(case, status=MACHINE.to(case.status, target))
    assert case.placement_id is not None  # every status that may move here has a placement
    return moved, [made(**_envelope(cause, placement_id=case.placement_id))]


def _on_site(case: Departure, fact: dep.MissionFact) -> Decision:
    """A fact of the mission under way, or of its end and the return (docs/domain.md, lifecycle 6, 7)."""
    mission = case.mission
    if mission is None or case.placement_id is None or case.status not in ON_SITE_OR_AFTER:
        raise TransitionError(f"a {case.status.value} departure has no mission under way")
    ids = _envelope(fact, placement_id=case.placement_id)
    day = fact.occurred_at.date()
    if isinstance(fact, dep.CivicTrainingAttended):
        if mission.civic_training:
            return case, []  # recorded already
        _unless(_only_on_site(case) or rules.civic_training(mission))
        trained = _mission(case, case.status, civic_training=True)
        return trained, [dep.CivicTrainingRecorded(**ids, in_time=rules.civic_training_in_time(mission, day))]
    if isinstance(fact, dep.InterviewHeld):
        return _interview(case, mission, fact, ids)
    if isinstance(fact, dep.MissionReportSubmitted):
        if mission.report:
            return case, []  # handed in already
        if case.status in ON_SITE:
            raise TransitionError("the end-of-mission report comes once the mission has ended")
        reported = _mission(case, case.status, report=True)
        return _close_if_done(reported, [dep.MissionReportRecorded(**ids)], ids)
    if isinstance(fact, dep.ExtensionAgreed):
        passport = case.checklist.passport_expires_on
        _unless(_only_under_way(case) or rules.extension(mission, fact.end_date, passport))
        extended = _mission(case, case.status, end_date=fact.end_date)
        return extended, [dep.MissionExtended(**ids, end_date=fact.end_date)]
    if isinstance(fact, dep.ReturnReported):
        if case.status is not Status.ENDED:
            raise TransitionError(
                f"a return needs a mission that has ended (the case is {case.status.value})"
            )
        _unless(rules.homecoming(mission, fact.returned_on))
        back = _mission(case, Status.RETURNED)
        return _close_if_done(back, [dep.VolunteerReturned(**ids)], ids)
    if isinstance(fact, dep.EarlyEndNotified):
        _unless(_only_under_way(case) or rules.early_end(mission, day, fact.last_day))
        reason = reasons.early_end(fact.ground)
        ending = _mission(case, Status.ENDING, last_day=fact.last_day, ending=reason)
        return ending, [dep.MissionEndingEarly(**ids, last_day=fact.last_day, reason=reason)]
    if isinstance(fact, dep.RepatriationOrdered):
        _unless(_only_on_site(case))
        return _end(
            case, ids, min(day, mission.last_day or mission.end_date), reasons.repatriation(fact.cause)
        )
    _unless(_only_on_site(case) or rules.mission_end(mission, fact.ended_on))
    return _end(case, ids, fact.ended_on, mission.ending or ReasonCode.COMPLETED)


def _interview(case: Departure, mission: Mission, fact: dep.InterviewHeld, ids: dict[str, Any]) -> Decision:
    """Record an interview: the start and mid-term ones during the mission (mid-term after start), the end
    one until the case closes, which it may do."""
    if fact.stage in mission.interviews:
        return case, []  # held already
    if fact.stage is not dep.InterviewStage.END:
        _unless(_only_on_site(case))
    if fact.stage is dep.InterviewStage.MID_TERM and dep.InterviewStage.START not in mission.interviews:
        raise TransitionError("the mid-term interview comes after the start interview")
    held = tuple(stage for stage in dep.InterviewStage if stage in {*mission.interviews, fact.stage})
    recorded = _mission(case, case.status, interviews=held)
    return _close_if_done(recorded, [dep.InterviewRecorded(**ids, stage=fact.stage)], ids)


def _close_if_done(case: Departure, events: list[Event], ids: dict[str, Any]) -> Decision:
    """Close the case once the volunteer is back, the end interview held and the report handed in."""
    assert case.mission is not None
    mission = case.mission
    if case.status is Status.RETURNED and dep.InterviewStage.END in mission.interviews and mission.report:
        return replace(case, status=MACHINE.to(case.status, Status.CLOSED)), [
            *events,
            dep.MissionClosed(**ids),
        ]
    return case, events


def _end(case: Departure, ids: dict[str, Any], last_day: dt.date, reason: str) -> Decision:
    ended = _mission(case, Status.ENDED, last_day=last_day)
    return ended, [
        dep.MissionEnded(**ids, last_day=last_day, early=reason != ReasonCode.COMPLETED, reason=reason)
    ]


def _mission(case: Departure, status: Status, **changes: Any) -> Departure:
    """The case moved to `status` with its mission changed."""
    assert case.mission is not None
    return replace(case, status=MACHINE.to(case.status, status), mission=replace(case.mission, **changes))


def _only_on_site(case: Departure) -> str | None:
    """Why a fact of the mission on site comes too late: the mission has ended."""
    return None if case.status in ON_SITE else f"the mission is over (the case is {case.status.value})"


def _only_under_way(case: Departure) -> str | None:
    """Why an extension or an early end comes too late: the mission has ended, or is ending already."""
    if case.status is Status.ENDING:
        return "an early end is notified already"
    return _only_on_site(case)


def _unless(problem: str | None) -> None:
    if problem:
        raise TransitionError(problem)


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


def followed(case: Departure, confirmed: PlacementConfirmed, placement: Hosted | None) -> Hosted:
    """The placement of a confirmation its case follows, known from now on (with the reports kept)."""
    early = placement.early if placement else ()
    return Hosted(application_id=confirmed.application_id, volunteer_id=confirmed.subject_id, early=early)


def kept_report(placement: Hosted | None, report: dep.PlacementReported) -> tuple[Hosted, list[Event]]:
    """A report on a placement whose confirmation is not known yet, kept until it is; refused beyond
    `MAX_EARLY_REPORTS` of one sender (a placement no case follows gets no answer until then; another
    sender's reports, judged by the case once it is known, cannot use up the placement's host's)."""
    early = placement.early if placement else ()
    if sum(kept.producer == report.producer for kept in early) >= MAX_EARLY_REPORTS:
        reason = f"no confirmed placement has this id ({MAX_EARLY_REPORTS} reports on it are kept already)"
        return placement or Hosted(), [refusal(report, PRODUCER, Status.NEW, reason)]
    return Hosted(early=(*early, report)), []


def reported(report: dep.PlacementReported, placement: Hosted) -> dep.HostFact:
    """The host's report by placement id, as the fact it stands for about the placement's case: the same
    sender, id and moment (so it is applied once, and judged as that fact, its host's included)."""
    assert placement.known  # a report reaches the case of a placement whose confirmation is known
    ids: dict[str, Any] = {
        "subject_id": placement.volunteer_id, "producer": report.producer, "event_id": report.event_id,
        "occurred_at": report.occurred_at, "correlation_id": report.correlation_id,
        "causation_id": report.causation_id, "application_id": placement.application_id,
    }  # fmt: skip
    day = report.end_date
    if report.report is dep.HostReport.ARRIVED:
        return dep.ArrivalReported(**ids)
    assert day is not None  # the contract requires it for every other report
    if report.report is dep.HostReport.EXTENDED:
        return dep.ExtensionAgreed(**ids, end_date=day)
    if report.report is dep.HostReport.ENDED:
        return dep.MissionEndReported(**ids, ended_on=day)
    assert report.ground is not None
    return dep.EarlyEndNotified(**ids, party=Party.HOST, last_day=day, ground=report.ground)
