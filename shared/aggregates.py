"""One document per aggregate: its state, the event ids it applied, and its outbox, saved together.

This is how every service gets effectively-once effects without multi-document transactions:
the state change, the idempotency record and the outgoing events are one atomic document write.
The outbox holds the events of the last save, each naming the message that caused it; they are published
before that message's offset is committed, so the commit is their "sent" mark: a message redelivered after
a crash finds itself applied and publishes the same event ids again, which downstream idempotency absorbs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic

S = TypeVar("S")


class Outgoing(msgspec.Struct, frozen=True):
    """An encoded event waiting in an outbox to be published."""

    topic: str
    key: str
    event_id: str
    value: bytes
    cause: str = ""  # the id of the event whose application produced it

    @classmethod
    def of(cls, topic: Topic, event: Event) -> Outgoing:
        """Encode `event` for `topic`, keyed by its subject."""
        return cls(topic.value, event.subject_id, event.event_id, encode(event))


class Record(msgspec.Struct, Generic[S], frozen=True, kw_only=True):
    """An aggregate as stored: `version` 0 means it was never saved."""

    id: str
    version: int = 0
    state: S | None = None
    applied: tuple[str, ...] = ()
    outbox: tuple[Outgoing, ...] = ()  # the events of the last save, each naming its cause

    def has_applied(self, event_id: str) -> bool:
        """Tell whether the event was already applied (a redelivery)."""
        return event_id in self.applied

    def applying(
        self, event_id: str, state: S | None, outgoing: Iterable[Outgoing], *, same_save: bool = False
    ) -> Record[S]:
        """Return the record after applying an event: new state, event recorded, its events in the outbox
        (after those of the events applied since the last save when `same_save`)."""
        caused = tuple(msgspec.structs.replace(o, cause=event_id) for o in outgoing)
        outbox = (*self.outbox, *caused) if same_save else caused
        return msgspec.structs.replace(self, state=state, applied=(*self.applied, event_id), outbox=outbox)

    def outbox_for(self, event_id: str) -> tuple[Outgoing, ...]:
        """Return the events that applying `event_id` produced, if they were part of the last save."""
        return tuple(o for o in self.outbox if o.cause == event_id)


class Aggregates(Protocol[S]):
    """The port every service's handlers use to load and save aggregates."""

    async def load(self, aggregate_id: str) -> Record[S]: ...

    async def save(self, record: Record[S]) -> Record[S]: ...

    async def find(self, query: dict[str, Any]) -> Sequence[Record[S]]: ...


def to_document(record: Record[Any]) -> dict[str, Any]:
    """Return the MongoDB document of a record (dates as ISO strings, bytes as binary)."""
    document: dict[str, Any] = msgspec.to_builtins(record, builtin_types=(bytes,))
    document["_id"] = document.pop("id")
    return document


def from_document(document: dict[str, Any], state_type: Any) -> Record[Any]:
    """Return the record stored in a MongoDB document."""
    fields = {k: v for k, v in document.items() if k != "_id"}
    return msgspec.convert({"id": document["_id"], **fields}, Record[state_type], strict=False)
