"""Builders of the outside facts a lifecycle needs: used by tests, the demo data and the load generator.

Every builder takes keyword overrides, so a test states only what matters to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

import msgspec

from shared.contracts import departure as dep
from shared.contracts.application import (
    ApplicationSubmitted,
    ErasureCompleted,
    ErasureRequested,
    Volunteer,
    Wishes,
    WithdrawalRequested,
)
from shared.contracts.envelope import Event, new_id
from shared.contracts.intake import intake_of, writer_of
from shared.contracts.placement import (
    ApplicantSelected,
    CandidateSelected,
    ChoiceApproved,
    HostingApproved,
    OfferApplied,
    Opening,
    OpeningPublished,
    Party,
    PlacementAnswered,
    ProposalAnswered,
)
from shared.contracts.types import Scheme
from shared.contracts.vetting import Check, ScreeningDeadlinePassed, ScreeningReported

E = TypeVar("E", bound=Event)

TODAY = dt.date(2026, 3, 1)
SUBMITTED_AT = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


# Where the samples' openings are and their volunteers wish to go (the end-to-end tests give each test a
# region of its own, so that no seat or waiting candidate of another test is within reach)
REGION = "San Martín"


def volunteer(volunteer_id: str = "vol-1", **overrides: Any) -> Volunteer:
    """A 24-year-old French volunteer living in France."""
    fields: dict[str, Any] = {
        "volunteer_id": volunteer_id,
        "given_name": "Camille",
        "family_name": "Durand",
        "birth_date": dt.date(2002, 5, 14),
        "nationality": "FR",
        "residence_country": "FR",
        "email": "camille.durand@example.org",
    }
    return Volunteer(**(fields | overrides))


def wishes(**overrides: Any) -> Wishes:
    """A wish for a 12-month service civique mission in San Martín, Peru, from 1 September 2026."""
    fields: dict[str, Any] = {
        "scheme": Scheme.SERVICE_CIVIQUE,
        "country": "PE",
        "region": REGION,
        "skills": ("education", "conservation"),
        "languages": ("fr", "es"),
        "available_from": dt.date(2026, 9, 1),
        "available_until": dt.date(2027, 8, 31),
    }
    return Wishes(**(fields | overrides))


def submitted(
    application_id: str = "app-1", *, volunteer_fields: dict[str, Any] | None = None, **overrides: Any
) -> ApplicationSubmitted:
    """An application as the portal sends it, keyed by the volunteer."""
    person = volunteer(**(volunteer_fields or {}))
    fields: dict[str, Any] = {
        "subject_id": person.volunteer_id,
        "producer": "portal",
        "event_id": new_id(),
        "occurred_at": SUBMITTED_AT,
        "application_id": application_id,
        "volunteer": person,
        "wishes": wishes(),
        "documents": ("identity-document", "cv", "motivation-letter"),
    }
    return ApplicationSubmitted(**(fields | overrides))


def withdrawal(application: ApplicationSubmitted, **overrides: Any) -> WithdrawalRequested:
    """The volunteer's request to withdraw an application."""
    fields: dict[str, Any] = {
        "subject_id": application.subject_id,
        "producer": "portal",
        "event_id": new_id(),
        "application_id": application.application_id,
        "reason": "personal reasons",
    }
    return WithdrawalRequested(**(fields | overrides))


def erasure(volunteer_id: str, **overrides: Any) -> ErasureRequested:
    """The agency's request, on the volunteer's behalf, that their personal data be erased."""
    fields: dict[str, Any] = {
        "subject_id": volunteer_id,
        "producer": "agency",
        "event_id": new_id(),
        "volunteer_id": volunteer_id,
    }
    return ErasureRequested(**(fields | overrides))


def erasure_completed(application: ApplicationSubmitted, producer: str = "application") -> ErasureCompleted:
    """A service's news that it erased `application`, as the next service reads it."""
    return ErasureCompleted(
        subject_id=application.subject_id, producer=producer, application_id=application.application_id
    )


def with_wishes(application: ApplicationSubmitted, **overrides: Any) -> ApplicationSubmitted:
    """The same application with other wishes."""
    return msgspec.structs.replace(
        application, wishes=msgspec.structs.replace(application.wishes, **overrides)
    )


def screening(
    application: ApplicationSubmitted, check: Check, *, passed: bool = True, **overrides: Any
) -> ScreeningReported:
    """One screening provider's report on one check, valid by default until the end of the volunteer's
    availability (so on any day the demo or a load runs, every mission they may be offered starts in time)."""
    fields: dict[str, Any] = {
        "subject_id": application.subject_id,
        "producer": "screening",
        "event_id": new_id(),
        "application_id": application.application_id,
        "check": check,
        "passed": passed,
        "valid_until": application.wishes.available_until,
    }
    return ScreeningReported(**(fields | overrides))


def all_screenings(application: ApplicationSubmitted) -> list[ScreeningReported]:
    """Every check, passed."""
    return [screening(application, check) for check in Check]


def screening_deadline(application: ApplicationSubmitted) -> ScreeningDeadlinePassed:
    """The screening window of the application closed."""
    return ScreeningDeadlinePassed(
        event_id=new_id(),
        subject_id=application.subject_id,
        producer="screening",
        application_id=application.application_id,
    )


def opening(opening_id: str = "open-1", **overrides: Any) -> Opening:
    """A 12-month service civique opening with one seat in Moyobamba, published well before matching."""
    fields: dict[str, Any] = {
        "opening_id": opening_id,
        "host_organisation": "Bosques de San Martín",
        "mission": "Conservation through education in Moyobamba",
        "country": "PE",
        "region": REGION,
        "scheme": Scheme.SERVICE_CIVIQUE,
        "seats": 1,
        "start_date": dt.date(2026, 9, 1),
        "duration_months": 12,
        "required_skills": ("education",),
        "required_languages": ("es",),
        "published_on": dt.date(2026, 1, 15),
        "hours_per_week": 35,
    }
    return Opening(**(fields | overrides))


def approved(opening_: Opening) -> HostingApproved:
    """The agency approves the hosting of a reciprocity opening, keyed by the opening."""
    fact = HostingApproved(
        event_id=new_id(), subject_id=opening_.opening_id, producer="tests", opening_id=opening_.opening_id
    )
    return msgspec.structs.replace(fact, producer=str(writer_of(intake_of(fact))))


def published(opening_: Opening) -> OpeningPublished:
    """The host partner publishes an opening, keyed by the opening."""
    return OpeningPublished(
        event_id=new_id(), subject_id=opening_.opening_id, producer="host", opening=opening_
    )


def answer(
    application: ApplicationSubmitted, placement_id: str, party: Party, *, accepted: bool = True
) -> PlacementAnswered:
    """The volunteer's (through the portal) or the host's answer to a proposed placement."""
    return PlacementAnswered(
        event_id=new_id(),
        subject_id=application.subject_id,
        producer="host" if party is Party.HOST else "portal",
        application_id=application.application_id,
        placement_id=placement_id,
        party=party,
        accepted=accepted,
    )


def checklist(
    application: ApplicationSubmitted,
    *,
    visa_granted: bool = True,
    fit: bool = True,
    passport_expires_on: dt.date = dt.date(2031, 1, 1),
    departure_date: dt.date = dt.date(2026, 8, 30),
) -> list[Event]:
    """Every pre-departure fact the outside systems send, in the order they usually come."""

    def envelope(producer: str) -> dict[str, Any]:
        return {
            "event_id": new_id(),
            "subject_id": application.subject_id,
            "producer": producer,
            "application_id": application.application_id,
        }

    return [
        dep.TrainingCompleted(**envelope("agency")),
        dep.MedicalReported(fit=fit, **envelope("agency")),
        dep.PassportChecked(expires_on=passport_expires_on, **envelope("visa-agent")),
        dep.VisaDecided(granted=visa_granted, **envelope("visa-agent")),
        dep.InsuranceSubscribed(**envelope("agency")),
        dep.TravelBooked(departure_date=departure_date, **envelope("travel-agent")),
        dep.SecurityBriefingAttended(**envelope("agency")),
        dep.ConsularRegistrationDone(**envelope("portal")),
    ]


def departed(application: ApplicationSubmitted) -> dep.DepartureTaken:
    """The travel agent reports the volunteer boarded."""
    return dep.DepartureTaken(
        event_id=new_id(),
        subject_id=application.subject_id,
        producer="travel-agent",
        application_id=application.application_id,
    )


def arrived(application: ApplicationSubmitted) -> dep.ArrivalReported:
    """The host reports the volunteer arrived."""
    return dep.ArrivalReported(
        event_id=new_id(),
        subject_id=application.subject_id,
        producer="host",
        application_id=application.application_id,
    )


def submitted_now(application_id: str, volunteer_id: str, **overrides: Any) -> ApplicationSubmitted:
    """An application sent now, for a 12-month mission starting in about three months, by a volunteer who
    is 24 at the start (whatever the year it runs)."""
    now = dt.datetime.now(dt.UTC)
    start = (now.date() + dt.timedelta(days=90)).replace(day=1)
    until = start.replace(year=start.year + 1) - dt.timedelta(days=1)
    return submitted(
        application_id,
        occurred_at=now,
        volunteer_fields={"volunteer_id": volunteer_id, "birth_date": start.replace(year=start.year - 24)},
        wishes=wishes(available_from=start, available_until=until),
        **overrides,
    )


def on_site(application: ApplicationSubmitted, kind: type[E], **fields: Any) -> E:
    """A fact about the volunteer's mission, from the source its intake topic names (an early end: the
    host's, unless `party` says the volunteer's, who sends it through the portal)."""
    if kind is dep.EarlyEndNotified:
        fields.setdefault("party", Party.HOST)
    ids: dict[str, Any] = {"event_id": new_id(), "subject_id": application.subject_id, "producer": "tests"}
    fact = kind(**(ids | {"application_id": application.application_id} | fields))
    return msgspec.structs.replace(fact, producer=str(writer_of(intake_of(fact))))


def selected(application: ApplicationSubmitted, opening_id: str, **overrides: Any) -> CandidateSelected:
    """The host chooses this volunteer for a seat of its opening."""
    return on_site(application, CandidateSelected, opening_id=opening_id, **overrides)


def choice_approved(application: ApplicationSubmitted, opening_id: str, **overrides: Any) -> ChoiceApproved:
    """The agency agrees that this volunteer take a seat of the opening (whose host selects)."""
    return on_site(application, ChoiceApproved, opening_id=opening_id, **overrides)


def offer_applied(application: ApplicationSubmitted, opening_id: str, **overrides: Any) -> OfferApplied:
    """The volunteer applies, through the portal, to an offer."""
    return on_site(application, OfferApplied, opening_id=opening_id, **overrides)


def proposal_answered(
    opening_: Opening, placement_id: str, *, accepted: bool = True, **overrides: Any
) -> ProposalAnswered:
    """The opening's host answers the proposal its partner topic named `placement_id`, keyed by the opening,
    on the host's own intake topic."""
    fields: dict[str, Any] = {"event_id": new_id(), "subject_id": opening_.opening_id, "producer": "tests"}
    fields |= {"opening_id": opening_.opening_id, "placement_id": placement_id, "accepted": accepted}
    fact = ProposalAnswered(**(fields | overrides))
    return msgspec.structs.replace(fact, producer=str(writer_of(intake_of(fact, opening_.host_organisation))))


def placement_reported(
    placement_id: str, host_organisation: str, report: dep.HostReport, **fields: Any
) -> dep.PlacementReported:
    """The host of a confirmed placement reports on it by the placement id its partner topic named, keyed
    by the placement, on the host's own intake topic (`end_date`, `ground`: as the report needs)."""
    ids = {"event_id": new_id(), "subject_id": placement_id, "producer": "tests"}
    fact = dep.PlacementReported(**(ids | {"placement_id": placement_id, "report": report} | fields))
    return msgspec.structs.replace(fact, producer=str(writer_of(intake_of(fact, host_organisation))))


def applicant_selected(opening_: Opening, volunteer_ref: str, **overrides: Any) -> ApplicantSelected:
    """The opening's host chooses the applicant its shortlist named `volunteer_ref`, keyed by the opening,
    on the host's own intake topic."""
    ids = {"event_id": new_id(), "subject_id": opening_.opening_id, "producer": "tests"}
    fact = ApplicantSelected(
        **(ids | {"opening_id": opening_.opening_id, "volunteer_ref": volunteer_ref} | overrides)
    )
    return msgspec.structs.replace(fact, producer=str(writer_of(intake_of(fact, opening_.host_organisation))))
