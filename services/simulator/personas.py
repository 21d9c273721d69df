"""The outside world's script for each volunteer: what the portal, providers, hosts and agents will say."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from shared.contracts.application import ApplicationSubmitted
from shared.contracts.envelope import Event
from shared.contracts.placement import Party
from shared.samples import all_screenings, answer, arrived, checklist, departed


class Persona(msgspec.Struct, frozen=True, kw_only=True):
    """One volunteer's application and how the outside systems will answer along the way."""

    application: ApplicationSubmitted
    visa_granted: bool = True
    travels: bool = True
    arrives: bool = True
    expected_stage: str  # the stage this volunteer should end at (see services.cli.stages)
    applies_after: str | None = None  # apply once this other application has been proposed a seat


def opening_facts(persona: Persona) -> list[Event]:
    """What is sent at once: the application and every screening report."""
    return [persona.application, *all_screenings(persona.application)]


def reactions(persona: Persona, event: Event) -> Iterator[Event]:
    """What the outside systems send in response to one of the services' events about this volunteer."""
    application = persona.application
    kind = event.event_type
    if kind == "PlacementProposed":
        placement_id = event.placement_id  # type: ignore[attr-defined]
        yield answer(application, placement_id, Party.VOLUNTEER)
        yield answer(application, placement_id, Party.HOST)
    elif kind == "PlacementConfirmed":
        start = event.start_date  # type: ignore[attr-defined]
        yield from checklist(
            application,
            visa_granted=persona.visa_granted,
            departure_date=start,
            passport_expires_on=start.replace(year=start.year + 5),
        )
    elif kind == "DepartureScheduled" and persona.travels:
        yield departed(application)
    elif kind == "VolunteerDeparted" and persona.arrives:
        yield arrived(application)
