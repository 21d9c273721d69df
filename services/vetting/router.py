"""The vetting service's Kafka side: what it consumes and publishes."""

from __future__ import annotations

from shared.contracts.topics import Topic

NAME = "vetting"
CONSUMES = (Topic.APPLICATION_EVENTS, Topic.VETTING_INTAKE)
PUBLISHES = (Topic.VETTING_EVENTS,)
