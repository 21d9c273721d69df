"""The opening aggregate: registered once from a host's publication; its seats are counted by reservations."""

from __future__ import annotations

from enum import StrEnum

from services.placement.notices import PRODUCER
from shared.contracts.envelope import Event, caused_by
from shared.contracts.placement import Opening, OpeningPublished, OpeningRegistered
from shared.contracts.types import Scheme
from shared.schemes import CIVIC_MAX_MONTHS, CIVIC_MIN_HOURS_PER_WEEK, CIVIC_MIN_MONTHS, VSI_MAX_MONTHS
from shared.statemachine import refusal


class OpeningStatus(StrEnum):
    """An opening is either unknown or registered."""

    NEW = "new"
    REGISTERED = "registered"


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


def register(state: Opening | None, event: OpeningPublished) -> tuple[Opening | None, list[Event]]:
    """Register a published opening; another publication of a registered opening, or an opening its scheme
    does not allow, is refused with the reasons (an opening no one could take is never registered)."""
    if state is not None:
        return state, [
            refusal(event, PRODUCER, OpeningStatus.REGISTERED, "the opening is already registered")
        ]
    if reasons := unlawful(event.opening):
        return None, [refusal(event, PRODUCER, OpeningStatus.NEW, "; ".join(reasons))]
    return event.opening, [
        OpeningRegistered(**caused_by(event, PRODUCER), opening_id=event.opening.opening_id)
    ]
