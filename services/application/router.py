"""The application service's Kafka side: what it consumes."""

from __future__ import annotations

from shared.contracts.topics import Topic

NAME = "application"
CONSUMES = (Topic.APPLICATION_INTAKE,)
PUBLISHES = (Topic.APPLICATION_EVENTS,)
