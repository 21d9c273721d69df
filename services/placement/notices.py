"""The events placement publishes about a candidate, and the partner updates: pure builders. No I/O.

Partner updates are keyed by the placement id and carry only the pseudonymous `volunteer_ref`:
no identity, birth date, nationality, health, passport or contact data (docs/domain.md, 'Personal data').
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import msgspec

from services.placement.matching import end_date
from shared.contracts.application import TransitionRefused
from shared.contracts.envelope import Event
from shared.contracts.intake import BY_REFERENCE
from shared.contracts.partner import (
    CandidateShortlisted,
    ChoiceVoid,
    FactRefused,
    MissionStage,
    MissionUpdated,
    PlacementErased,
    PlacementStatus,
    PlacementUpdated,
    ShortlistErased,
    ShortlistLeft,
)
from shared.contracts.partners import partner_named, partner_of, topic_of
from shared.contracts.placement import (
    Opening,
    Party,
    PlacementAwaited,
    PlacementCancelled,
    PlacementClosed,
    PlacementConfirmed,
    PlacementProposed,
)
from shared.contracts.topics import Topic

PRODUCER = "placement"
Envelope = dict[str, Any]


class Placement(msgspec.Struct, frozen=True, kw_only=True):
    """A proposed or confirmed placement: the reserved seat, its opening, and who accepted."""

    placement_id: str
    seat_id: str
    opening: Opening
    volunteer_ref: str  # the pseudonym partners see
    accepted_by: tuple[Party, ...] = ()
    key_version: int = 1  # of the key that made `volunteer_ref` (a placement keeps its reference for good)


class Applied(msgspec.Struct, frozen=True, kw_only=True):
    """An offer the volunteer applied to (`by_volunteer`), or matching suggested them for (`suggested`), or
    both (applied to once suggested); `volunteer_ref` (and its key version) when they are on its host's
    shortlist, the reference the host chooses them by."""

    opening_id: str
    host_organisation: str
    volunteer_ref: str | None = None
    key_version: int = 1
    suggested: bool = False
    by_volunteer: bool = True


def _partner_envelope(envelope: Envelope, about: str) -> Envelope:
    """A partner message's envelope: keyed and correlated by what it is about alone (a placement, or an
    opening for a shortlist): the lifecycle's correlation and causation ids (one volunteer's thread through
    every topic, and across hosts) stay inside Envol."""
    return {**envelope, "subject_id": about, "correlation_id": about, "causation_id": None}


Shortlist = CandidateShortlisted | ShortlistLeft | ShortlistErased | ChoiceVoid
PartnerNews = PlacementUpdated | MissionUpdated | PlacementErased | Shortlist


def partner_topics(news: PartnerNews, shared: bool = True) -> tuple[str, ...]:
    """Where a partner message goes: to the host's own topic if the host is a partner
    (`shared.contracts.partners`), which only it reads, and, for a placement's news, to the shared topic of
    the first delivery unless it is retired (`shared` false; a shortlist reaches its partner alone)."""
    partner = partner_of(news.host_organisation) if news.host_organisation else None
    own = (topic_of(partner),) if partner else ()
    return (Topic.PARTNER_PLACEMENT_UPDATES, *own) if shared and not isinstance(news, Shortlist) else own


DAY = r"\d{4}-\d{2}-\d{2}"
# The reasons a partner is told as they are: about its own standing (not the host, a reference or an id its
# opening does not know), its own opening, or the mission's own dates (which its updates carry). Any other
# (a case's status, the volunteer's eligibility, documents, history, other applications or proposals,
# whether a seat is free) is withheld: a partner learns no more from a refusal than from its updates.
TOLD = re.compile(
    "|".join(
        (
            r"[a-z0-9-]+ is not the host of this opening",
            r"the opening is (not|already) registered",
            r"no standing proposal of the opening has this placement id",
            r"no applicant of the opening has this reference",
            r"no confirmed placement has this id \(\d+ reports on it are kept already\)",
            rf"an extension must end after the mission's last day, {DAY}",
            rf"the mission ends on {DAY} anyway: an early end must come before",
            r"the last day is before the notice",
            rf"vsi: an early end needs \d+ month's notice \(a last day from {DAY}\)",
            rf"the mission ends on {DAY}; an end on another day is an early end",
        )
    )
)
WITHHELD = "refused for a reason the agency is told, not the host"


def told_reason(refused: TransitionRefused) -> str:
    """The reason of a refusal as a partner is told it: as it is when it is about the partner's own opening
    (an opening's own rules) or is one of `TOLD`, else `WITHHELD`."""
    about_the_opening = refused.refused_event_type == "OpeningPublished"
    return refused.reason if about_the_opening or TOLD.fullmatch(refused.reason) else WITHHELD


def refusal_told(refused: TransitionRefused) -> tuple[str, FactRefused] | None:
    """A refusal of a partner's own fact (placement's, or departure's, which placement relays), as the
    partner's own topic tells it: the partner's event id, the fact's type and the rule it broke (unless it
    is not the partner's to know: `told_reason`), keyed by the opening or placement the fact named
    (never by a volunteer: by the refused event id then). None for any other sender's fact: a host that
    is not a partner reads no topic, and the shared partner topic is every partner's."""
    partner = partner_named(refused.refused_producer or "")
    if partner is None:
        return None
    about = refused.subject_id if refused.refused_event_type in BY_REFERENCE else refused.refused_event_id
    digest = hashlib.sha256(f"told|{refused.event_id}".encode()).hexdigest()  # each copy told alike
    envelope = {"producer": PRODUCER, "event_id": f"fr-{digest[:24]}", "occurred_at": refused.occurred_at}
    told = FactRefused(
        **_partner_envelope(envelope, about),
        refused_event_id=refused.refused_event_id,
        refused_event_type=refused.refused_event_type,
        reason=told_reason(refused),
        host_organisation=partner.organisation,
    )
    return topic_of(partner), told


def shortlisted(envelope: Envelope, applied: Applied) -> list[Event]:
    """The applicant's entry on its host's shortlist, keyed by the opening, if they are on it (`suggested`:
    matching put them there)."""
    if applied.volunteer_ref is None:
        return []
    return [CandidateShortlisted(**_shortlist_fields(envelope, applied), suggested=applied.suggested)]


def shortlist_left(envelope: Envelope, applied: Applied) -> list[Event]:
    """The notice that an applicant on the host's shortlist can no longer be chosen (no reason given)."""
    return [ShortlistLeft(**_shortlist_fields(envelope, applied))] if applied.volunteer_ref else []


def shortlist_erased(envelope: Envelope, applied: Applied) -> list[Event]:
    """The notice that an applicant on the host's shortlist was erased: the host forgets the reference."""
    return [ShortlistErased(**_shortlist_fields(envelope, applied))] if applied.volunteer_ref else []


def choice_void(envelope: Envelope, applied: Applied) -> list[Event]:
    """The notice that the host's choice of the applicant on its shortlist, agreed with the agency, took no
    seat and is void (never why: the volunteer's other applications are not the host's business)."""
    return [ChoiceVoid(**_shortlist_fields(envelope, applied))] if applied.volunteer_ref else []


def _shortlist_fields(envelope: Envelope, applied: Applied) -> dict[str, Any]:
    """What every shortlist message says of an entry on it (`applied` has a reference: it is on it)."""
    return {
        **_partner_envelope(envelope, applied.opening_id),
        "opening_id": applied.opening_id,
        "volunteer_ref": applied.volunteer_ref,
        "host_organisation": applied.host_organisation,
        "key_version": applied.key_version,
    }


def on_shortlist(opening: Opening) -> bool:
    """Whether an opening's applicants go on its host's shortlist: its host selects its candidates and is a
    partner, with a topic of its own (a host that is not one chooses by application id)."""
    return opening.selected_by_host and partner_of(opening.host_organisation) is not None


def update(envelope: Envelope, placement: Placement, status: PlacementStatus) -> PlacementUpdated:
    """Return the partner update of a placement: without personal data (see `_partner_envelope`)."""
    opening = placement.opening
    return PlacementUpdated(
        **_partner_envelope(envelope, placement.placement_id),
        placement_id=placement.placement_id,
        status=status,
        volunteer_ref=placement.volunteer_ref,
        key_version=placement.key_version,
        host_organisation=opening.host_organisation,
        mission=opening.mission,
        scheme=opening.scheme,
        country=opening.country,
        region=opening.region,
        start_date=opening.start_date,
        end_date=end_date(opening),
        opening_id=opening.opening_id,
    )


def mission(envelope: Envelope, placement: Placement, stage: MissionStage, on: dt.date) -> MissionUpdated:
    """Return the partner's news of an arrived placement's mission: it now ends `on` (extended, ending
    early) or ended `on`; never why."""
    return MissionUpdated(
        **_partner_envelope(envelope, placement.placement_id),
        placement_id=placement.placement_id,
        stage=stage,
        end_date=on,
        volunteer_ref=placement.volunteer_ref,
        key_version=placement.key_version,
        host_organisation=placement.opening.host_organisation,
    )


def erasure(envelope: Envelope, placement: Placement) -> PlacementErased:
    """Return the notice that the placement's volunteer was erased: the partner forgets its reference."""
    return PlacementErased(
        **_partner_envelope(envelope, placement.placement_id),
        placement_id=placement.placement_id,
        volunteer_ref=placement.volunteer_ref,
        key_version=placement.key_version,
        host_organisation=placement.opening.host_organisation,
    )


def proposed(envelope: Envelope, application_id: str, placement: Placement) -> list[Event]:
    """A seat is reserved and proposed to both parties."""
    opening = placement.opening
    event = PlacementProposed(
        **envelope,
        application_id=application_id,
        placement_id=placement.placement_id,
        opening_id=opening.opening_id,
        host_organisation=opening.host_organisation,
        mission=opening.mission,
        country=opening.country,
        region=opening.region,
        scheme=opening.scheme,
        start_date=opening.start_date,
        end_date=end_date(opening),
    )
    return [event, update(envelope, placement, PlacementStatus.PROPOSED)]


def confirmed(
    envelope: Envelope, application_id: str, placement: Placement, max_months: int | None
) -> list[Event]:
    """Both parties accepted; `max_months` is the longest mission the volunteer's scheme allows them."""
    opening = placement.opening
    event = PlacementConfirmed(
        **envelope,
        application_id=application_id,
        placement_id=placement.placement_id,
        opening_id=opening.opening_id,
        country=opening.country,
        start_date=opening.start_date,
        end_date=end_date(opening),
        scheme=opening.scheme,
        max_months=max_months,
        host_organisation=opening.host_organisation,
    )
    return [event, update(envelope, placement, PlacementStatus.CONFIRMED)]


def cancelled(envelope: Envelope, application_id: str, placement: Placement, reason: str) -> list[Event]:
    """The placement is cancelled and its seat released."""
    event = PlacementCancelled(
        **envelope,
        application_id=application_id,
        placement_id=placement.placement_id,
        opening_id=placement.opening.opening_id,
        reason=reason,
    )
    return [event, update(envelope, placement, PlacementStatus.CANCELLED)]


def awaited(envelope: Envelope, application_id: str) -> list[Event]:
    """No suitable opening has a free seat: the candidate waits."""
    return [PlacementAwaited(**envelope, application_id=application_id)]


def closed(envelope: Envelope, application_id: str, reason: str) -> list[Event]:
    """No placement will be made."""
    return [PlacementClosed(**envelope, application_id=application_id, reason=reason)]
