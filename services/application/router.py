"""The application service's Kafka side: what it consumes."""

from __future__ import annotations

from shared.contracts.intake import intakes_of
from shared.contracts.topics import Topic

NAME = "application"
CONSUMES = intakes_of(NAME)
PUBLISHES = (Topic.APPLICATION_EVENTS,)
