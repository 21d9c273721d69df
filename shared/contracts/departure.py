"""Facts the training team, visa and travel agents and hosts send in, and the departure service's events."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from shared.contracts.application import TransitionRefused
from shared.contracts.envelope import Event, Fact
from shared.contracts.types import Id, Reason, check_dates


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
    reason: Reason


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
DepartureEvent = (
    ChecklistOpened
    | ChecklistItemDone
    | ContractSigned
    | DepartureScheduled
    | VolunteerDeparted
    | ArrivalConfirmed
    | DepartureCancelled
    | TransitionRefused
)
