"""Facts the training team, visa and travel agents and hosts send in, and the departure service's events."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from shared.contracts.application import ErasureCompleted, TransitionRefused
from shared.contracts.envelope import Event, Fact
from shared.contracts.placement import Party
from shared.contracts.types import CodedReason, Id, check_dates


class Item(StrEnum):
    """The pre-departure checklist (docs/domain.md, 'The lifecycle' 4)."""

    TRAINING = "training"
    MEDICAL = "medical"
    PASSPORT = "passport"
    VISA = "visa"
    INSURANCE = "insurance"
    TRAVEL = "travel"
    SECURITY_BRIEFING = "security-briefing"
    CONSULAR_REGISTRATION = "consular-registration"


class InterviewStage(StrEnum):
    """The follow-up interviews of a mission (docs/domain.md, 'The lifecycle' 6)."""

    START = "start"
    MID_TERM = "mid-term"
    END = "end"


class EarlyEndReason(StrEnum):
    """Why a mission ends before its contract's end: a code, never a person's own words."""

    VOLUNTEER_DECISION = "volunteer-decision"
    HOST_DECISION = "host-decision"
    MUTUAL_AGREEMENT = "mutual-agreement"


class HostReport(StrEnum):
    """What a host reports about a placement of its own by its id (`PlacementReported`): the stages its
    `MissionUpdated`s name, and the arrival."""

    ARRIVED = "arrived"  # the volunteer arrived (as `ArrivalReported`)
    EXTENDED = "extended"  # agreed with the agency: the mission now ends on `end_date` (`ExtensionAgreed`)
    ENDING_EARLY = "ending-early"  # the host ends it early, on `ground`: `end_date` is its last day
    ENDED = "ended"  # it ended on `end_date` (`MissionEndReported`)


class RepatriationCause(StrEnum):
    """Why the agency brings a volunteer home at once."""

    MEDICAL = "medical"
    SECURITY = "security"  # an evacuation
    FAMILY = "family"


# Facts sent in by outside systems (their intake topics: shared.contracts.intake)
class TrainingCompleted(Fact, frozen=True, tag=True):
    """The training team: pre-departure training done."""

    application_id: Id


class MedicalReported(Fact, frozen=True, tag=True):
    """The medical provider: check and vaccinations done, fit or not."""

    application_id: Id
    fit: bool


class PassportChecked(Fact, frozen=True, tag=True):
    """The visa agent checked the passport's expiry date."""

    application_id: Id
    expires_on: dt.date

    def __post_init__(self) -> None:
        super().__post_init__()
        check_dates(self.expires_on)


class VisaDecided(Fact, frozen=True, tag=True):
    """The consulate granted or refused the visa."""

    application_id: Id
    granted: bool


class InsuranceSubscribed(Fact, frozen=True, tag=True):
    """Insurance covers the whole mission."""

    application_id: Id


class TravelBooked(Fact, frozen=True, tag=True):
    """The travel agent booked the journey."""

    application_id: Id
    departure_date: dt.date

    def __post_init__(self) -> None:
        super().__post_init__()
        check_dates(self.departure_date)


class SecurityBriefingAttended(Fact, frozen=True, tag=True):
    """The volunteer attended the security briefing."""

    application_id: Id


class ConsularRegistrationDone(Fact, frozen=True, tag=True):
    """The volunteer registered with the consulate (Ariane for French nationals)."""

    application_id: Id


class DepartureTaken(Fact, frozen=True, tag=True):
    """The travel agent: the volunteer boarded."""

    application_id: Id


class ArrivalReported(Fact, frozen=True, tag=True):
    """The host: the volunteer arrived."""

    application_id: Id


class PlacementReported(Fact, frozen=True, tag=True):
    """A host's report on a confirmed placement of its own, by the `placement_id` its partner topic gave
    (its `PlacementUpdated`s): the host never needs the volunteer's or the application's id, as with
    `ArrivalReported`, `ExtensionAgreed`, `EarlyEndNotified` and `MissionEndReported`, which it stands for.
    The key and `subject_id` are the placement's id. `end_date` is required for every report but the
    arrival, `ground` for an early end alone."""

    placement_id: Id
    report: HostReport
    end_date: dt.date | None = None
    ground: EarlyEndReason | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        arrival, early_end = self.report is HostReport.ARRIVED, self.report is HostReport.ENDING_EARLY
        if (self.end_date is None) != arrival:
            raise ValueError("an end_date is given for every report but the arrival, and for them alone")
        if (self.ground is None) == early_end:
            raise ValueError("a ground is given for an early end, and for it alone")
        check_dates(self.end_date)


# The mission, after arrival (docs/domain.md, 'The lifecycle' 6 and 7)
class CivicTrainingAttended(Fact, frozen=True, tag=True):
    """The agency: the volunteer attended the civic training (service civique: two days, first aid
    included)."""

    application_id: Id


class InterviewHeld(Fact, frozen=True, tag=True):
    """The agency held one of the mission's follow-up interviews."""

    application_id: Id
    stage: InterviewStage


class ExtensionAgreed(Fact, frozen=True, tag=True):
    """The host and the agency agreed to extend the mission to a new last day."""

    application_id: Id
    end_date: dt.date

    def __post_init__(self) -> None:
        super().__post_init__()
        check_dates(self.end_date)


class EarlyEndNotified(Fact, frozen=True, tag=True):
    """The host, or the volunteer through the portal, ends the mission early: its last day and on what
    ground."""

    application_id: Id
    party: Party
    last_day: dt.date
    ground: EarlyEndReason

    def __post_init__(self) -> None:
        super().__post_init__()
        check_dates(self.last_day)


class RepatriationOrdered(Fact, frozen=True, tag=True):
    """The agency repatriates or evacuates the volunteer: the mission ends that day."""

    application_id: Id
    cause: RepatriationCause


class MissionEndReported(Fact, frozen=True, tag=True):
    """The host: the mission ended on its contract's last day, or on the last day of an early end."""

    application_id: Id
    ended_on: dt.date

    def __post_init__(self) -> None:
        super().__post_init__()
        check_dates(self.ended_on)


class ReturnReported(Fact, frozen=True, tag=True):
    """The travel agent: the volunteer is back home."""

    application_id: Id
    returned_on: dt.date

    def __post_init__(self) -> None:
        super().__post_init__()
        check_dates(self.returned_on)


class MissionReportSubmitted(Fact, frozen=True, tag=True):
    """The volunteer, through the portal, handed in the end-of-mission report (its text stays with the
    agency: Envol keeps only that it was handed in)."""

    application_id: Id


# Events of the departure service (topic departure.events)
class ChecklistOpened(Event, frozen=True, tag=True):
    """A confirmed placement opened the pre-departure checklist."""

    application_id: Id
    placement_id: Id


class ChecklistItemDone(Event, frozen=True, tag=True):
    """One item of the checklist is done."""

    application_id: Id
    item: Item


class ContractSigned(Event, frozen=True, tag=True):
    """The checklist is complete: the contract is signed."""

    application_id: Id
    placement_id: Id


class DepartureScheduled(Event, frozen=True, tag=True):
    """The volunteer will depart on the booked date."""

    application_id: Id
    placement_id: Id
    departure_date: dt.date


class VolunteerDeparted(Event, frozen=True, tag=True):
    """The volunteer departed."""

    application_id: Id
    placement_id: Id


class ArrivalConfirmed(Event, frozen=True, tag=True):
    """The host confirmed the volunteer's arrival: the lifecycle is complete."""

    application_id: Id
    placement_id: Id


class DepartureCancelled(Event, frozen=True, tag=True):
    """Visa refused, medical failed, or withdrawal: the seat must be released."""

    application_id: Id
    placement_id: Id
    reason: CodedReason


class CivicTrainingRecorded(Event, frozen=True, tag=True):
    """The civic training is done; `in_time` tells whether within the mission's first 3 months."""

    application_id: Id
    placement_id: Id
    in_time: bool


class InterviewRecorded(Event, frozen=True, tag=True):
    """A follow-up interview was held."""

    application_id: Id
    placement_id: Id
    stage: InterviewStage


class MissionExtended(Event, frozen=True, tag=True):
    """The mission now ends on `end_date`, within the scheme's limits."""

    application_id: Id
    placement_id: Id
    end_date: dt.date


class MissionEndingEarly(Event, frozen=True, tag=True):
    """An early end is notified: the mission goes on until `last_day` (`reason`: a code, e.g.
    `early-end:host-decision`); the host reports the end on that day."""

    application_id: Id
    placement_id: Id
    last_day: dt.date
    reason: CodedReason


class MissionEnded(Event, frozen=True, tag=True):
    """The mission is over on `last_day`: completed, or ended early (`reason`: a code, e.g.
    `early-end:host-decision` or `repatriation:security`). An early end frees the seat in placement."""

    application_id: Id
    placement_id: Id
    last_day: dt.date
    early: bool
    reason: CodedReason


class VolunteerReturned(Event, frozen=True, tag=True):
    """The volunteer is back home."""

    application_id: Id
    placement_id: Id


class MissionReportRecorded(Event, frozen=True, tag=True):
    """The end-of-mission report is handed in."""

    application_id: Id
    placement_id: Id


class MissionClosed(Event, frozen=True, tag=True):
    """Back home, the end interview held and the end-of-mission report handed in: the case is closed."""

    application_id: Id
    placement_id: Id


MissionFact = (
    CivicTrainingAttended
    | InterviewHeld
    | ExtensionAgreed
    | EarlyEndNotified
    | RepatriationOrdered
    | MissionEndReported
    | ReturnReported
    | MissionReportSubmitted
)
DepartureFact = (
    TrainingCompleted
    | MedicalReported
    | PassportChecked
    | VisaDecided
    | InsuranceSubscribed
    | TravelBooked
    | SecurityBriefingAttended
    | ConsularRegistrationDone
    | DepartureTaken
    | ArrivalReported
)
HostFact = ArrivalReported | ExtensionAgreed | EarlyEndNotified | MissionEndReported  # by PlacementReported
DepartureEvent = (
    ChecklistOpened
    | ChecklistItemDone
    | ContractSigned
    | DepartureScheduled
    | VolunteerDeparted
    | ArrivalConfirmed
    | DepartureCancelled
    | CivicTrainingRecorded
    | InterviewRecorded
    | MissionExtended
    | MissionEndingEarly
    | MissionEnded
    | VolunteerReturned
    | MissionReportRecorded
    | MissionClosed
    | TransitionRefused
    | ErasureCompleted
)
