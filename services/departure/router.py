"""The departure service's Kafka side: what it consumes and publishes."""

from __future__ import annotations

from shared.contracts.intake import intakes_of
from shared.contracts.topics import Topic

NAME = "departure"
CONSUMES = (Topic.PLACEMENT_EVENTS, Topic.APPLICATION_EVENTS, *intakes_of(NAME))
PUBLISHES = (Topic.DEPARTURE_EVENTS,)
