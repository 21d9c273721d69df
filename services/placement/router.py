"""The placement service's Kafka side: what it consumes and publishes."""

from __future__ import annotations

from shared.contracts.topics import Topic

NAME = "placement"
CONSUMES = (Topic.APPLICATION_EVENTS, Topic.VETTING_EVENTS, Topic.PLACEMENT_INTAKE, Topic.DEPARTURE_EVENTS)
PUBLISHES = (Topic.PLACEMENT_EVENTS, Topic.PARTNER_PLACEMENT_UPDATES)
