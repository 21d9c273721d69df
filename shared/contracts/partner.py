"""The public, versioned placement-updates contract partners subscribe to: no personal data in it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from shared.contracts.envelope import Event
from shared.contracts.types import CountryCode, Id, Reason, Scheme, Title

VolunteerRef = Annotated[
    str, Meta(pattern=r"^vol-[0-9a-f]{16}$", description="Pseudonymous volunteer reference")
]
KeyVersion = Annotated[
    int,
    Meta(ge=1, description="The version of Envol's key that made volunteer_ref (a new key, a new version)"),
]


class PlacementStatus(StrEnum):
    """Where a placement stands, as partners see it."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    DEPARTED = "departed"
    ARRIVED = "arrived"


class PlacementUpdated(Event, frozen=True, tag=True):
    """A placement changed status (schema version 1 of the partner contract)."""

    placement_id: Id
    status: PlacementStatus
    volunteer_ref: VolunteerRef
    host_organisation: Title
    mission: Title
    scheme: Scheme
    country: CountryCode
    region: Title
    start_date: dt.date
    end_date: dt.date
    key_version: KeyVersion | None = None  # added within v1: optional (absent: the first key)
    opening_id: Id | None = None  # added within v1: the host's answer names it (`ProposalAnswered`)


class MissionStage(StrEnum):
    """What happened to a mission after the volunteer's arrival, as its host sees it."""

    EXTENDED = "extended"  # it now ends on `end_date`, later than planned
    ENDING_EARLY = "ending-early"  # an early end is notified: it goes on until `end_date`
    ENDED = "ended"  # it is over; `end_date` was its last day (before the planned one: it ended early)


class MissionUpdated(Event, frozen=True, tag=True):
    """The mission of an arrived placement changed (added within v1 beside `PlacementUpdated`, whose
    statuses are fixed): keyed by the placement, in order with its updates. Why a mission ends early (a
    decision, a repatriation) is never said."""

    placement_id: Id
    stage: MissionStage
    end_date: dt.date
    volunteer_ref: VolunteerRef
    host_organisation: Title
    key_version: KeyVersion | None = None


class PlacementErased(Event, frozen=True, tag=True):
    """The volunteer of a placement had their personal data erased: delete what you keep under this
    `volunteer_ref` (the placement's dates and mission may stay, no longer linked to anyone)."""

    placement_id: Id
    volunteer_ref: VolunteerRef
    host_organisation: Title | None = None  # the placement's host (added within v1: optional)
    key_version: KeyVersion | None = None  # added within v1: optional


class CandidateShortlisted(Event, frozen=True, tag=True):
    """A volunteer applied to the partner's opening, whose host selects its candidates, or Envol's matching
    suggests them for it (`suggested`: they did not apply; their own application later sends no second
    entry): once the opening has been published 15 days, the host may choose them with `ApplicantSelected`
    naming this `volunteer_ref` (the shortlist holds no personal data; the same reference names them in the
    placement's updates). Keyed by the opening (added within v1: a partner ignores an event type it does not
    know)."""

    opening_id: Id
    volunteer_ref: VolunteerRef
    host_organisation: Title
    key_version: KeyVersion | None = None
    suggested: bool = False  # added within v1: absent means applied


class ShortlistErased(Event, frozen=True, tag=True):
    """A volunteer on the partner's shortlist of an opening had their personal data erased: delete what you
    keep under this `volunteer_ref` for it. Keyed by the opening (added within v1)."""

    opening_id: Id
    volunteer_ref: VolunteerRef
    host_organisation: Title
    key_version: KeyVersion | None = None


class ShortlistLeft(Event, frozen=True, tag=True):
    """A volunteer on the partner's shortlist of an opening can no longer be chosen for it: their case
    closed (why stays inside Envol), or they were confirmed on another opening. Keyed by the opening (added
    within v1); a choice of them is refused from now on. A volunteer proposed a placement of this very
    opening gets none for it: that placement's `PlacementUpdated`s tell it (`cancelled`: they can no
    longer be chosen for it either)."""

    opening_id: Id
    volunteer_ref: VolunteerRef
    host_organisation: Title
    key_version: KeyVersion | None = None


class ChoiceVoid(Event, frozen=True, tag=True):
    """The choice of the volunteer on the partner's shortlist, which the partner and the agency agreed on,
    could take no seat of the opening: every seat is held, or the volunteer is being placed through another
    application (which is never said). Both choices are void; the volunteer stays on the shortlist as long
    as no `ShortlistLeft` says otherwise, and may be chosen again, with the agency. Keyed by the opening
    (added within v1)."""

    opening_id: Id
    volunteer_ref: VolunteerRef
    host_organisation: Title
    key_version: KeyVersion | None = None


class FactRefused(Event, frozen=True, tag=True):
    """A fact the partner stated on one of its own intake topics was refused: nothing changed (added within
    v1). `refused_event_id` is the partner's own event id, `reason` the rule the fact broke, in words that
    hold no value of a person. Keyed by the opening or the placement the fact named, else by the refused
    event id; correct the fact and state it again under a new event id."""

    refused_event_id: Id
    refused_event_type: Title
    reason: Reason
    host_organisation: Title


PartnerEvent = (
    PlacementUpdated
    | MissionUpdated
    | PlacementErased
    | CandidateShortlisted
    | ShortlistLeft
    | ShortlistErased
    | ChoiceVoid
    | FactRefused
)

# Fields that must never appear on the partner topic (checked by tests and the audit).
PERSONAL_FIELDS = frozenset(
    {
        "volunteer_id", "given_name", "family_name", "birth_date", "nationality", "residence_country",
        "email", "phone", "medical", "fit", "passport", "expires_on", "criminal_record", "background",
    }
)  # fmt: skip
