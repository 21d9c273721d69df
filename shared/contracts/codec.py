"""Encode events to JSON bytes and decode the bytes of a topic into its tagged union."""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any

import msgspec

from shared.contracts import application, departure, partner, placement, vetting
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC, refusal, writer_of
from shared.contracts.policy import CONTRACT_VERSION
from shared.contracts.topics import PARTNER_TOPICS, Topic

MAX_MESSAGE_BYTES = 256 * 1024

UNION_OF_TOPIC: dict[str, Any] = {
    Topic.APPLICATION_EVENTS: application.ApplicationEvent,
    Topic.VETTING_EVENTS: vetting.VettingEvent,
    Topic.PLACEMENT_EVENTS: placement.PlacementEvent,
    Topic.DEPARTURE_EVENTS: departure.DepartureEvent,
    Topic.PARTNER_PLACEMENT_UPDATES: partner.PartnerEvent,
} | {topic: reduce(or_, intake.facts) for topic, intake in INTAKE_OF_TOPIC.items()}
UNION_OF_TOPIC |= dict.fromkeys(PARTNER_TOPICS, partner.PartnerEvent)  # each partner's own: the same contract

_DECODERS = {topic: msgspec.json.Decoder(union) for topic, union in UNION_OF_TOPIC.items()}
_ENCODER = msgspec.json.Encoder()


class ContractError(ValueError):
    """Bytes that are not a valid event of the topic; the reason names the field, never its value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:300]


def encode(event: Event) -> bytes:
    """Return the JSON bytes of an event."""
    return _ENCODER.encode(event)


def decode(topic: str, data: bytes | None) -> Event:
    """Return the event in `data`, or raise ContractError saying why it is not one."""
    decoder = _DECODERS.get(topic)
    if decoder is None:
        raise ContractError(f"no contract for topic {topic}")
    if not data:
        raise ContractError("empty message")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ContractError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        event: Event = decoder.decode(data)
    except Exception as error:  # every decoding failure, e.g. UnicodeDecodeError on invalid UTF-8
        raise ContractError(f"{type(error).__name__}: {error}") from None
    if event.schema_version != CONTRACT_VERSION:
        raise ContractError(
            f"schema_version {event.schema_version} is not a version this reader knows ({CONTRACT_VERSION})"
        )
    return event


def decode_sent(topic: str, key: bytes | None, data: bytes | None) -> Event:
    """Return the event of a consumed record, bound to its sender: `producer` is the topic's one writer,
    and an intake fact that does not bind to its source (`shared.contracts.intake`) is a ContractError."""
    event = decode(topic, data)
    reason = refusal(topic, key, event)
    if reason is not None:
        raise ContractError(f"refused: {reason}")
    writer = writer_of(topic)
    if writer is None or event.producer == writer:
        return event
    return msgspec.structs.replace(event, producer=writer)


def events_of(topic: str) -> tuple[type[Event], ...]:
    """Return the event classes a topic carries."""
    union = UNION_OF_TOPIC[topic]
    return tuple(getattr(union, "__args__", (union,)))
