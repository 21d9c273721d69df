"""Facts host partners send in, and the events the placement service publishes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import msgspec

from shared.contracts.application import ErasureCompleted, TransitionRefused
from shared.contracts.envelope import Event, Fact
from shared.contracts.partner import VolunteerRef
from shared.contracts.types import (
    CodedReason,
    CountryCode,
    HoursPerWeek,
    Id,
    Languages,
    Months,
    Scheme,
    Seats,
    Skills,
    Title,
    check_dates,
)


class Party(StrEnum):
    """Who answers a placement proposal."""

    VOLUNTEER = "volunteer"
    HOST = "host"


class Opening(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A mission a host organisation offers, with a number of seats."""

    opening_id: Id
    host_organisation: Title
    mission: Title
    country: CountryCode
    region: Title
    scheme: Scheme
    seats: Seats
    start_date: dt.date
    duration_months: Months
    required_skills: Skills = ()
    required_languages: Languages = ()
    published_on: dt.date
    hours_per_week: HoursPerWeek | None = None  # service civique: at least 24 (docs/domain.md)
    selected_by_host: bool = False  # the host chooses among the candidates (CandidateSelected), once the
    # publication period is over, among the applicants and those matching suggests (CandidateSuggested);
    # otherwise the host answers each proposal of the first suitable candidate

    def __post_init__(self) -> None:
        check_dates(self.start_date, self.published_on)


# Facts sent in by host partners (their intake topic: shared.contracts.intake)
class OpeningPublished(Fact, frozen=True, tag=True):
    """A host partner published a mission opening."""

    opening: Opening


class PlacementAnswered(Fact, frozen=True, tag=True):
    """The volunteer or the host accepted or declined a proposed placement."""

    application_id: Id
    placement_id: Id
    party: Party
    accepted: bool


class CandidateSelected(Fact, frozen=True, tag=True):
    """The host chose this candidate for a seat of its opening (one whose host selects its candidates)."""

    application_id: Id
    opening_id: Id


class ApplicantSelected(Fact, frozen=True, tag=True):
    """The host chose, for a seat of its opening (one whose host selects its candidates), the applicant its
    shortlist named (`CandidateShortlisted.volunteer_ref`, on its own partner topic): the host never needs
    the volunteer's or the application's id. The key and `subject_id` are the opening's id."""

    opening_id: Id
    volunteer_ref: VolunteerRef


class ProposalAnswered(Fact, frozen=True, tag=True):
    """The host's answer to a proposal of its opening, by the `placement_id` its partner topic gave (its
    `proposed` update): the host never needs the volunteer's or the application's id, as with
    `PlacementAnswered`. The key and `subject_id` are the opening's id."""

    opening_id: Id
    placement_id: Id
    accepted: bool


# Facts sent in by the portal, for the volunteer (its intake topic: shared.contracts.intake)
class OfferApplied(Fact, frozen=True, tag=True):
    """The volunteer applied to an offer (an opening) before it starts: a suitable offer applied to is
    proposed before any other, and the host of an opening that selects its candidates finds the applicant
    on its shortlist (docs/domain.md, 'The lifecycle' 5)."""

    application_id: Id
    opening_id: Id


# Facts sent in by the agency (its intake topic: shared.contracts.intake)
class HostingApproved(Fact, frozen=True, tag=True):
    """The service civique agency approved the hosting of a reciprocity opening (each one is approved):
    until then no volunteer is offered it. The key and `subject_id` are the opening's id."""

    opening_id: Id


class ChoiceApproved(Fact, frozen=True, tag=True):
    """The agency, the sending organisation, agrees that this candidate take a seat of this opening, whose
    host selects its candidates: the host and the agency choose together (docs/domain.md, 'The lifecycle'
    5), so a seat is reserved once both chose the same candidate for it, in either order."""

    application_id: Id
    opening_id: Id


class Chooser(StrEnum):
    """Who chose a candidate for an opening whose host selects."""

    HOST = "host"
    AGENCY = "agency"


# Events of the placement service (topic placement.events)
class CandidateChosen(Event, frozen=True, tag=True):
    """One of the two choosers chose the candidate for the opening (`CandidateSelected`, `ApplicantSelected`
    or `ChoiceApproved`); `agreed` once the other chose them too: a seat is then sought for them there
    (`PlacementProposed`, or the choice refused for want of one). Until then the choice waits for the
    other's."""

    application_id: Id
    opening_id: Id
    by: Chooser
    agreed: bool


class OpeningRegistered(Event, frozen=True, tag=True):
    """An opening is open for matching."""

    opening_id: Id


class CandidateApplied(Event, frozen=True, tag=True):
    """The candidate's application to an offer is recorded (`OfferApplied`)."""

    application_id: Id
    opening_id: Id


class CandidateSuggested(Event, frozen=True, tag=True):
    """Matching suggests the waiting candidate for an opening whose host selects its candidates: it suits
    them by every matching rule (its publication period aside), and they did not apply to it. A suggestion
    reserves nothing: the host and the agency may choose them (`CandidateSelected` or `ApplicantSelected`,
    and `ChoiceApproved`), as they may choose an applicant (docs/domain.md, 'The lifecycle' 5)."""

    application_id: Id
    opening_id: Id


class PlacementAwaited(Event, frozen=True, tag=True):
    """A cleared volunteer waits: no opening with a free seat matches yet."""

    application_id: Id


class PlacementProposed(Event, frozen=True, tag=True):
    """A seat is reserved for the volunteer; both parties are asked to accept."""

    application_id: Id
    placement_id: Id
    opening_id: Id
    host_organisation: Title
    mission: Title
    country: CountryCode
    region: Title
    scheme: Scheme
    start_date: dt.date
    end_date: dt.date


class PlacementConfirmed(Event, frozen=True, tag=True):
    """Volunteer and host both accepted: departure preparation starts. `scheme` and `max_months` (the
    longest mission the scheme allows this volunteer, from their clearance) bound an extension."""

    application_id: Id
    placement_id: Id
    opening_id: Id
    country: CountryCode
    start_date: dt.date
    end_date: dt.date
    scheme: Scheme | None = None
    max_months: Months | None = None
    host_organisation: Title | None = None  # whose facts about the mission departure takes (added within v1)


class PlacementCancelled(Event, frozen=True, tag=True):
    """The seat is released: declined, withdrawn, or departure cancelled."""

    application_id: Id
    placement_id: Id
    opening_id: Id
    reason: CodedReason


class PlacementClosed(Event, frozen=True, tag=True):
    """No placement will be made for this application; the reason says why."""

    application_id: Id
    reason: CodedReason


PlacementEvent = (
    OpeningRegistered
    | CandidateApplied
    | CandidateSuggested
    | CandidateChosen
    | PlacementAwaited
    | PlacementProposed
    | PlacementConfirmed
    | PlacementCancelled
    | PlacementClosed
    | TransitionRefused
    | ErasureCompleted
)
