"""Topic names: one intake topic (facts from outside) and one event topic per service, plus shared ones."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    """Every topic of the system."""

    APPLICATION_INTAKE = "envol.application.intake"
    APPLICATION_EVENTS = "envol.application.events"
    VETTING_INTAKE = "envol.vetting.intake"
    VETTING_EVENTS = "envol.vetting.events"
    PLACEMENT_INTAKE = "envol.placement.intake"
    PLACEMENT_EVENTS = "envol.placement.events"
    DEPARTURE_INTAKE = "envol.departure.intake"
    DEPARTURE_EVENTS = "envol.departure.events"
    PARTNER_PLACEMENT_UPDATES = "envol.partner.placement-updates.v1"
    DEAD_LETTER = "envol.dead-letter"


# The topics outside systems write to; the only ones an operator may write to (a dead letter's replay).
INTAKES = (Topic.APPLICATION_INTAKE, Topic.VETTING_INTAKE, Topic.PLACEMENT_INTAKE, Topic.DEPARTURE_INTAKE)
