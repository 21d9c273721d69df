"""The envelope every event carries, and how a new event inherits it from its cause."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

import msgspec

from shared.contracts.policy import CONTRACT_VERSION
from shared.contracts.types import Id, Instant, Producer, SchemaVersion, check_instants


def new_id() -> str:
    """Return a fresh event id."""
    return str(uuid.uuid4())


def utc_now() -> dt.datetime:
    """Return the current time, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", forbid_unknown_fields=True):
    """Envelope fields shared by every event; `event_type` is the tag of each subclass."""

    subject_id: Id  # the id of the entity the event is about, also its Kafka key
    producer: Producer
    event_id: Id = msgspec.field(default_factory=new_id)
    schema_version: SchemaVersion = CONTRACT_VERSION  # a reader refuses any other (contracts.policy)
    occurred_at: Instant = msgspec.field(default_factory=utc_now)
    correlation_id: Id | None = None
    causation_id: Id | None = None
    # An event that carries a volunteer's personal data: the outbox that publishes it forgets it once it is
    # published (shared.aggregates.Record.forgetting), so the copy lives on its topic alone.
    PERSONAL: ClassVar[bool] = False

    def __post_init__(self) -> None:
        """Refuse a naive or out-of-range `occurred_at`; an event adding checks calls this first."""
        check_instants(self.occurred_at)

    @property
    def event_type(self) -> str:
        """Return the event's type name, as written on the wire."""
        return type(self).__struct_config__.tag  # type: ignore[return-value]

    @property
    def identity(self) -> str:
        """What a consumer recognises the event by: its id as its producer's own, so that one sender's id
        never counts for another's (the producer is set from the topic on consumption, never trusted)."""
        return f"{self.producer}/{self.event_id}"


class Fact(Event, frozen=True, kw_only=True):
    """A fact an outside source states on its intake topic: it must carry its own `event_id`, the same on
    every retry, for the fact to be applied once."""

    event_id: Id


def caused_by(cause: Event, producer: str) -> dict[str, Any]:
    """Envelope fields of an event caused by `cause`: same subject and correlation."""
    return {
        "subject_id": cause.subject_id,
        "producer": producer,
        "correlation_id": cause.correlation_id or cause.event_id,
        "causation_id": cause.event_id,
    }
