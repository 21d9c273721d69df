"""The opening aggregate: registered once from a host's publication, approved by the agency when it is a
reciprocity hosting; its seats are counted by reservations."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import msgspec
from msgspec.structs import replace

from services.placement.notices import PRODUCER
from shared.aggregates import APPLIED_WINDOW
from shared.contracts.envelope import Event, caused_by
from shared.contracts.intake import not_the_host
from shared.contracts.placement import (
    ApplicantSelected,
    HostingApproved,
    OfferApplied,
    Opening,
    OpeningPublished,
    OpeningRegistered,
    ProposalAnswered,
)
from shared.contracts.types import Scheme
from shared.schemes import CIVIC_MAX_MONTHS, CIVIC_MIN_HOURS_PER_WEEK, CIVIC_MIN_MONTHS, VSI_MAX_MONTHS
from shared.statemachine import refusal

if TYPE_CHECKING:
    from services.placement.domain import OfferSuggested


class OpeningStatus(StrEnum):
    """An opening is either unknown or registered."""

    NEW = "new"
    REGISTERED = "registered"


class Choice(msgspec.Struct, frozen=True):
    """A host's fact by reference (`ApplicantSelected`, `ProposalAnswered`, by its identity) and the
    application it named."""

    identity: str
    application_id: str


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    """An opening as placement keeps it: the host's publication, and whether the agency approved its
    hosting (either may come first: they come from two topics); for a shortlist, its applicants by the
    reference the host knows them by, and the host's choices and answers by reference as first resolved
    (so a redelivered one names the same candidate, whatever happened since: a proposal declined no
    longer holds the seat it was resolved by)."""

    opening: Opening | None = None
    approved: bool = False
    applicants: dict[str, str] = msgspec.field(default_factory=dict)  # volunteer_ref -> application id
    choices: tuple[Choice, ...] = ()
    answers: tuple[Choice, ...] = ()

    def chosen_by(self, event: ApplicantSelected) -> str | None:
        """The application the host's choice named when it was first applied (None: refused)."""
        return next((c.application_id for c in self.choices if c.identity == event.identity), None)

    def answered_by(self, event: ProposalAnswered) -> str | None:
        """The application whose proposal the host's answer named when first applied (None: refused)."""
        return next((c.application_id for c in self.answers if c.identity == event.identity), None)


def hosting_problem(listing: Listing | None) -> str | None:
    """Why no volunteer may be offered the listing's opening yet: not registered, or a reciprocity hosting
    the service civique agency has not approved (docs/domain.md, 'Programmes'; each one is approved)."""
    if listing is None or listing.opening is None:
        return "the opening is not registered"
    if listing.opening.scheme is Scheme.RECIPROCITY and not listing.approved:
        return "the agency has not approved this reciprocity hosting yet"
    return None


def offered(listing: Listing | None) -> Opening | None:
    """The listing's opening if volunteers may be offered it, else None."""
    return listing.opening if listing is not None and hosting_problem(listing) is None else None


def unlawful(opening: Opening) -> list[str]:
    """Why no volunteer could lawfully take the opening under its scheme (docs/domain.md, 'Programmes'):
    its length, and for service civique (and reciprocity, a service civique) its weekly hours, which the
    host must state."""
    found = []
    if opening.scheme is Scheme.VSI and opening.duration_months > VSI_MAX_MONTHS:
        found.append(f"vsi: a mission of {opening.duration_months} months exceeds {VSI_MAX_MONTHS}")
    if opening.scheme is not Scheme.VSI:
        name = opening.scheme.value
        if not CIVIC_MIN_MONTHS <= opening.duration_months <= CIVIC_MAX_MONTHS:
            found.append(
                f"{name}: a mission of {opening.duration_months} months is outside "
                f"{CIVIC_MIN_MONTHS} to {CIVIC_MAX_MONTHS}"
            )
        hours = opening.hours_per_week
        if hours is None:
            found.append(f"{name}: the weekly hours are not stated (at least {CIVIC_MIN_HOURS_PER_WEEK})")
        elif hours < CIVIC_MIN_HOURS_PER_WEEK:
            found.append(f"{name}: {hours} hours a week is below {CIVIC_MIN_HOURS_PER_WEEK}")
    return found


def register(state: Listing | None, event: OpeningPublished) -> tuple[Listing | None, list[Event]]:
    """Register a published opening; another publication of a registered opening, or an opening its scheme
    does not allow, is refused with the reasons (an opening no one could take is never registered)."""
    listing = state or Listing()
    if listing.opening is not None:
        return state, [
            refusal(event, PRODUCER, OpeningStatus.REGISTERED, "the opening is already registered")
        ]
    if reasons := unlawful(event.opening):
        return state, [refusal(event, PRODUCER, OpeningStatus.NEW, "; ".join(reasons))]
    return replace(listing, opening=event.opening), [
        OpeningRegistered(**caused_by(event, PRODUCER), opening_id=event.opening.opening_id)
    ]


def approve(state: Listing | None, event: HostingApproved) -> tuple[Listing | None, list[Event]]:
    """Record the agency's approval of a hosting (before its publication too); only a reciprocity hosting
    needs one, so the approval of another opening is refused."""
    listing = state or Listing()
    if listing.opening is not None and listing.opening.scheme is not Scheme.RECIPROCITY:
        status = OpeningStatus.REGISTERED
        return state, [refusal(event, PRODUCER, status, "only a reciprocity hosting is approved")]
    return (state, []) if listing.approved else (replace(listing, approved=True), [])


class ApplicantListed(Event, frozen=True, tag=True):
    """An applicant put on an opening's shortlist under the reference its host knows them by: an internal
    fact, never published, made while handling their `OfferApplied` (or matching's `OfferSuggested`) and
    applied to the opening once (its id is the application's, and the opening's own subject its subject)."""

    opening_id: str
    volunteer_ref: str
    application_id: str


def applicant_listed(cause: OfferApplied | OfferSuggested, volunteer_ref: str) -> ApplicantListed:
    """The shortlist entry `cause`, an application to the offer or its suggestion, makes under
    `volunteer_ref`."""
    return ApplicantListed(
        subject_id=cause.opening_id, producer=PRODUCER, event_id=f"{cause.event_id}.listed",
        occurred_at=cause.occurred_at, correlation_id=cause.opening_id, causation_id=cause.event_id,
        opening_id=cause.opening_id, volunteer_ref=volunteer_ref, application_id=cause.application_id,
    )  # fmt: skip


def shortlist(state: Listing | None, event: ApplicantListed) -> tuple[Listing | None, list[Event]]:
    """Put an applicant on the opening's shortlist under the reference its host knows them by."""
    listing = state or Listing()
    applicants = {**listing.applicants, event.volunteer_ref: event.application_id}
    return replace(listing, applicants=applicants), []


def resolve(state: Listing | None, event: ApplicantSelected) -> tuple[Listing | None, list[Event]]:
    """Resolve a host's choice by reference to the applicant it names, once; refuse a reference no
    applicant of the opening has (or an unknown opening)."""
    application = state.applicants.get(event.volunteer_ref) if state is not None else None
    if state is None or application is None:
        status = (
            OpeningStatus.REGISTERED if state is not None and state.opening is not None else OpeningStatus.NEW
        )
        return state, [refusal(event, PRODUCER, status, "no applicant of the opening has this reference")]
    return replace(state, choices=_kept(state.choices, Choice(event.identity, application))), []


def resolve_answer(
    state: Listing | None, event: ProposalAnswered, proposed: str | None
) -> tuple[Listing | None, list[Event]]:
    """Resolve a host's answer by placement id to the application `proposed`, whose standing proposal of
    the opening holds a seat under that id, once; refuse an answer from another than the opening's host,
    or naming no such proposal."""
    if state is None or state.opening is None:
        return state, [refusal(event, PRODUCER, OpeningStatus.NEW, "the opening is not registered")]
    if (stranger := not_the_host(event.producer, state.opening.host_organisation)) is not None:
        return state, [refusal(event, PRODUCER, OpeningStatus.REGISTERED, stranger)]
    if proposed is None:
        reason = "no standing proposal of the opening has this placement id"
        return state, [refusal(event, PRODUCER, OpeningStatus.REGISTERED, reason)]
    return replace(state, answers=_kept(state.answers, Choice(event.identity, proposed))), []


def _kept(resolved: tuple[Choice, ...], latest: Choice) -> tuple[Choice, ...]:
    """The resolutions kept: the latest `APPLIED_WINDOW`, as many as the record recognises applied (only
    the message under way, if it comes again, needs its own: the listing does not grow without end)."""
    return (*resolved, latest)[-APPLIED_WINDOW:]
