"""The vetting service's Kafka side: what it consumes and publishes."""

from __future__ import annotations

from shared.contracts.intake import intakes_of
from shared.contracts.topics import Topic

NAME = "vetting"
CONSUMES = (Topic.APPLICATION_EVENTS, *intakes_of(NAME))
PUBLISHES = (Topic.VETTING_EVENTS,)
