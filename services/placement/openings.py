"""The opening aggregate: registered once from a host's publication; its seats are counted by reservations."""

from __future__ import annotations

from enum import StrEnum

from services.placement.notices import PRODUCER
from shared.contracts.envelope import Event, caused_by
from shared.contracts.placement import Opening, OpeningPublished, OpeningRegistered
from shared.statemachine import refusal


class OpeningStatus(StrEnum):
    """An opening is either unknown or registered."""

    NEW = "new"
    REGISTERED = "registered"


def register(state: Opening | None, event: OpeningPublished) -> tuple[Opening | None, list[Event]]:
    """Register a published opening; another publication of a registered opening is refused."""
    if state is not None:
        return state, [
            refusal(event, PRODUCER, OpeningStatus.REGISTERED, "the opening is already registered")
        ]
    return event.opening, [
        OpeningRegistered(**caused_by(event, PRODUCER), opening_id=event.opening.opening_id)
    ]
