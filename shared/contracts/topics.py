"""Topic names: one intake topic per outside source and service, one event topic per service, and shared ones.

An intake topic has one writer, the source its name ends with: the broker lets only that source's principal
write it, so the topic a fact came from says who stated it (`shared.contracts.intake`).
"""

from __future__ import annotations

from enum import StrEnum

from shared.contracts.partners import PARTNERS, principal_of, topic_of


class Topic(StrEnum):
    """Every topic of the system."""

    APPLICATION_INTAKE = "envol.application.intake.portal"
    APPLICATION_INTAKE_AGENCY = "envol.application.intake.agency"
    APPLICATION_EVENTS = "envol.application.events"
    VETTING_INTAKE = "envol.vetting.intake.screening"
    VETTING_EVENTS = "envol.vetting.events"
    PLACEMENT_INTAKE = "envol.placement.intake.host"
    PLACEMENT_INTAKE_PORTAL = "envol.placement.intake.portal"
    PLACEMENT_INTAKE_AGENCY = "envol.placement.intake.agency"
    PLACEMENT_EVENTS = "envol.placement.events"
    DEPARTURE_INTAKE = "envol.departure.intake.agency"
    DEPARTURE_INTAKE_VISA = "envol.departure.intake.visa-agent"
    DEPARTURE_INTAKE_TRAVEL = "envol.departure.intake.travel-agent"
    DEPARTURE_INTAKE_HOST = "envol.departure.intake.host"
    DEPARTURE_INTAKE_PORTAL = "envol.departure.intake.portal"
    DEPARTURE_EVENTS = "envol.departure.events"
    PARTNER_PLACEMENT_UPDATES = "envol.partner.placement-updates.v1"
    DEAD_LETTER = "envol.dead-letter"


# Each partner's own topic (shared.contracts.partners), beside the shared one of the first delivery.
PARTNER_TOPICS: tuple[str, ...] = tuple(topic_of(partner) for partner in PARTNERS)

# Each partner's own intake topics: the host facts it states, for placement and for departure (its principal
# writes them alone, so the topic says which host stated a fact: shared.contracts.intake).
HOST_SERVICES = ("placement", "departure")


def partner_intake(service: str, principal: str) -> str:
    """A partner's own intake topic for a service."""
    return f"envol.{service}.intake.{principal}"


PARTNER_INTAKES: tuple[str, ...] = tuple(
    partner_intake(service, principal_of(partner)) for partner in PARTNERS for service in HOST_SERVICES
)

# Every topic: the system's, and a reading topic and two intake topics per partner.
TOPICS: tuple[str, ...] = (*Topic, *PARTNER_TOPICS, *PARTNER_INTAKES)

# The topics outside systems write to; the only ones an operator may write to (a dead letter's replay).
INTAKES = tuple(topic for topic in TOPICS if ".intake." in topic)

# The one service that writes each event topic.
WRITER_OF_EVENTS: dict[str, str] = {
    Topic.APPLICATION_EVENTS: "application",
    Topic.VETTING_EVENTS: "vetting",
    Topic.PLACEMENT_EVENTS: "placement",
    Topic.PARTNER_PLACEMENT_UPDATES: "placement",
    Topic.DEPARTURE_EVENTS: "departure",
} | dict.fromkeys(PARTNER_TOPICS, "placement")
