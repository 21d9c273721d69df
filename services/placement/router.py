"""The placement service's Kafka side: what it consumes and publishes."""

from __future__ import annotations

from shared.contracts.intake import intakes_of
from shared.contracts.topics import PARTNER_TOPICS, Topic

NAME = "placement"
CONSUMES = (Topic.APPLICATION_EVENTS, Topic.VETTING_EVENTS, *intakes_of(NAME), Topic.DEPARTURE_EVENTS)
PUBLISHES = (Topic.PLACEMENT_EVENTS, Topic.PARTNER_PLACEMENT_UPDATES, *PARTNER_TOPICS)
