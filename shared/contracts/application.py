"""Facts the recruitment portal sends in, and the events the application service publishes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import Meta

from shared.contracts.envelope import Event, Fact
from shared.contracts.types import (
    CodedReason,
    CountryCode,
    Email,
    Id,
    Languages,
    Months,
    Name,
    Phone,
    Producer,
    Reason,
    Reasons,
    Scheme,
    Skills,
    Title,
    check_dates,
)

Document = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
Documents = Annotated[tuple[Document, ...], Meta(max_length=20)]


class Volunteer(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A volunteer's identity and situation: personal data, never sent to partners."""

    volunteer_id: Id
    given_name: Name
    family_name: Name
    birth_date: dt.date
    nationality: CountryCode
    residence_country: CountryCode
    residence_permit_months: Months = 0
    student: bool = False
    refugee: bool = False
    disability: bool = False
    email: Email
    phone: Phone | None = None
    prior_vsi_months: Months = 0  # VSI time already served, across associations

    def __post_init__(self) -> None:
        check_dates(self.birth_date)


class Wishes(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the volunteer asks for: scheme, place, skills, languages, availability."""

    scheme: Scheme
    country: CountryCode
    region: Title | None = None
    skills: Skills = ()
    languages: Languages = ()
    available_from: dt.date
    available_until: dt.date

    def __post_init__(self) -> None:
        check_dates(self.available_from, self.available_until)


# Facts sent in by the portal (its intake topics: shared.contracts.intake)
class ApplicationSubmitted(Fact, frozen=True, tag=True):
    """The portal received a complete application form."""

    application_id: Id
    volunteer: Volunteer
    wishes: Wishes
    documents: Documents = ()


class WithdrawalRequested(Fact, frozen=True, tag=True):
    """The volunteer asked, through the portal, to withdraw."""

    application_id: Id
    reason: Reason


# Events of the application service (topic application.events)
class ApplicationReceived(Event, frozen=True, tag=True):
    """An application passed completeness checks and is open."""

    PERSONAL = True  # the volunteer as the portal stated them
    application_id: Id
    volunteer: Volunteer
    wishes: Wishes


class ApplicationRejected(Event, frozen=True, tag=True):
    """An application was refused before vetting, with reasons."""

    application_id: Id
    reasons: Reasons


class ApplicationWithdrawn(Event, frozen=True, tag=True):
    """The volunteer withdrew: every downstream service stops its work."""

    application_id: Id
    reason: CodedReason


class TransitionRefused(Event, frozen=True, tag=True):
    """A message asked for a transition the state machine forbids; nothing changed."""

    refused_event_id: Id
    refused_event_type: Title
    status: Title
    reason: Reason
    # the refused fact's sender (its `producer`, set from its topic; added within v1): placement tells a
    # partner the refusal of its own fact on the partner's topic (shared.contracts.partner.FactRefused)
    refused_producer: Producer | None = None


# The agency's fact, on its intake topic of the application service (shared.contracts.intake)
class ErasureRequested(Fact, frozen=True, tag=True):
    """The volunteer asked that their personal data be erased (GDPR art. 17): every service erases what it
    holds of every application of theirs stated before this request, and none is re-created from old
    facts. Stated by the agency, which receives the volunteer's request and checks who asks."""

    volunteer_id: Id


class ErasureCompleted(Event, frozen=True, tag=True):
    """A service erased what it held of one application (its `producer` says which): the aggregate is a
    tombstone that refuses every later fact, and what it held on the side (claims, seats) is released.
    Each service sends it on its own topic once it has erased, and the next one erases on reading it."""

    application_id: Id


ApplicationEvent = (
    ApplicationReceived | ApplicationRejected | ApplicationWithdrawn | TransitionRefused | ErasureCompleted
)
