"""One document per aggregate: its state, the event ids it applied, and its outbox, saved together.

This is how every service gets effectively-once effects without multi-document transactions:
the state change, the idempotency record and the outgoing events are one atomic document write.
The outbox holds the events of the last save, each naming the message that caused it; they are published
before that message's offset is committed, so the commit is their "sent" mark: a message redelivered after
a crash finds itself applied and publishes the same event ids again, which downstream idempotency absorbs.
An event that carries personal data (`Event.PERSONAL`) is the exception: once published, the record is
saved again without it, so the aggregate keeps no copy of what its state does not need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.tracing import traceparent

S = TypeVar("S")


APPLIED_WINDOW = 100  # the ids of the latest events applied, kept to recognise republished copies
MARKS_KEPT = 32  # offset marks kept, the latest first written (one per source partition and key)


class Position(msgspec.Struct, frozen=True):
    """Where a consumed message came from: its source partition (`topic:partition`) and offset."""

    source: str
    offset: int


class Mark(msgspec.Struct, frozen=True):
    """The highest offset applied from one source partition."""

    source: str
    offset: int


class Outgoing(msgspec.Struct, frozen=True):
    """An encoded event waiting in an outbox to be published."""

    topic: str
    key: str
    event_id: str
    value: bytes
    cause: str = ""  # the identity of the event whose application produced it
    source: str = ""  # the source partition of that event ("" when applied outside the consume loop)
    trace: str = ""  # the W3C traceparent of the span that made it ("" when tracing is off)
    correlation: str = ""  # the event's correlation id, sent as the `correlation_id` header too
    personal: bool = False  # it carries a volunteer's personal data (`Event.PERSONAL`): forgotten once sent

    @classmethod
    def of(cls, topic: str, event: Event) -> Outgoing:
        """Encode `event` for `topic`, keyed by its subject, in the trace of the message being handled."""
        return cls(
            str(topic), event.subject_id, event.event_id, encode(event), trace=traceparent(topic),
            correlation=event.correlation_id or "", personal=event.PERSONAL,
        )  # fmt: skip


class Tombstone:
    """A decision's new state that erases the aggregate (`erased`), keeping only `kept`."""

    def __init__(self, kept: Any = None) -> None:
        self.kept = kept


def erased(kept: Any = None) -> Any:
    """The new state a decision returns to make the record a tombstone: `kept` is what it still needs to
    release what it holds (seats), nothing personal; usually nothing."""
    return Tombstone(kept)


class Record(msgspec.Struct, Generic[S], frozen=True, kw_only=True):
    """An aggregate as stored: `version` 0 means it was never saved.

    Idempotency is bounded: the ids of the last `APPLIED_WINDOW` events applied (a republished copy
    arrives at a new offset soon after the original), and per source partition and key the highest offset
    applied (a redelivery comes again at its old offset, and one key of a partition is applied in order).

    The outbox holds what is not known to be published yet, in the order made. Events made by a message
    of the source partition of the save before are known published (that message was processed first and
    published the whole outbox, or was committed after doing so); those of another partition are not
    (a crash may have come between their save and their publish), so they are kept and published again
    before the new ones: order per key holds even when one aggregate is written from several partitions.
    A redelivery publishes the whole outbox again, whichever save made its entries: what a handler does
    next on the side (seats released, a to-do list cleared) may rely on every event the state implies.

    An erased record (`erased`, after a decision returned `erased()`) is a tombstone: no state (or the
    little its decision kept, to release what it held), and an outbox of what the erasure sent, after the
    entries not known published (a save from another partition may not have published them yet, and order
    per key must hold: nothing the aggregate made before its erasure may first appear after the news of
    it). It refuses every later event, so one replayed re-creates nothing; only a redelivery (an offset it
    applied) publishes its outbox again, and `envol erase` deletes every record about the volunteer once
    every reader is past it, so none is redelivered after that.
    """

    id: str
    version: int = 0
    state: S | None = None
    applied: tuple[str, ...] = ()  # the identities of the latest events applied, at most APPLIED_WINDOW
    marks: tuple[Mark, ...] = ()  # a list, not a map: topic names hold dots, field names cannot
    outbox: tuple[Outgoing, ...] = ()  # not known to be published, oldest first
    last_sources: tuple[str, ...] = ()  # the source partitions of the events the last save applied
    subject: str = ""  # the volunteer (or opening) its events are about: every one is keyed by it
    erased: bool = False  # a tombstone: the volunteer's data erased, every later event refused
    news_published: bool = False  # a tombstone whose outbox (the news of its erasure) is known published

    def has_applied(self, identity: str, position: Position | None = None) -> bool:
        """Tell whether the event (by its `Event.identity`) was already applied (a redelivery, or a
        republished copy)."""
        if identity in self.applied:
            return True
        return position is not None and self.mark_of(position.source) >= position.offset

    def mark_of(self, source: str) -> int:
        """The highest offset applied from a source partition (-1 if none)."""
        return next((m.offset for m in self.marks if m.source == source), -1)

    def applying(
        self,
        identity: str,
        state: S | None,
        outgoing: Iterable[Outgoing],
        *,
        position: Position | None = None,
        same_save: bool = False,
        subject: str = "",
    ) -> Record[S]:
        """Return the record after applying an event: new state, event recorded, its events in the outbox
        after those not known to be published (and those of the same save when `same_save`), and its
        `subject` if the event gives one."""
        source = position.source if position else ""
        caused = tuple(msgspec.structs.replace(o, cause=identity, source=source) for o in outgoing)
        marks = self.marks
        if position is not None:
            marks = (*(m for m in marks if m.source != source), Mark(source, position.offset))[-MARKS_KEPT:]
        erasing = isinstance(state, Tombstone)
        outbox: tuple[Outgoing, ...]
        last_sources: tuple[str, ...]
        if same_save:
            outbox, last_sources = self.outbox, self.last_sources
        else:
            outbox, last_sources = self._unpublished(source), ()
        return msgspec.structs.replace(
            self,
            state=state.kept if isinstance(state, Tombstone) else state,
            erased=self.erased or erasing,
            applied=(*self.applied, identity)[-APPLIED_WINDOW:],
            marks=marks,
            outbox=(*outbox, *caused),
            last_sources=tuple(dict.fromkeys((*last_sources, source))),
            subject=subject or self.subject,
        )

    def forgetting(self) -> Record[S]:
        """The record once its outbox is published, without the entries it need not keep: those holding
        personal data (`Outgoing.personal`; a redelivery then finds them sent, and republishes the others);
        a tombstone also drops every entry from before its erasure, keeping the news of it (a redelivery
        sends those again), known published. The record itself when there is nothing to drop or to learn."""
        if not self.erased:
            kept = tuple(o for o in self.outbox if not o.personal)
            return self if len(kept) == len(self.outbox) else msgspec.structs.replace(self, outbox=kept)
        if not self.outbox:
            return self
        erasure = self.outbox[-1].cause  # its news come last: an erased record takes no event after
        news = tuple(o for o in self.outbox if o.cause == erasure)
        if len(news) == len(self.outbox) and self.news_published:
            return self
        return msgspec.structs.replace(self, outbox=news, news_published=True)

    def _unpublished(self, source: str) -> tuple[Outgoing, ...]:
        """The outbox entries a save from `source` must keep: those not known to be published."""
        if source and self.last_sources == (source,):
            return ()  # the save before came from this partition: its message published everything
        return tuple(o for o in self.outbox if o.source not in ("", source))


class Aggregates(Protocol[S]):
    """The port every service's handlers use to load and save aggregates."""

    async def load(self, aggregate_id: str) -> Record[S]: ...

    async def load_many(self, aggregate_ids: Sequence[str]) -> dict[str, Record[S]]:
        """Every one of these aggregates (a new record for one never saved), in one query."""
        ...

    async def save(self, record: Record[S]) -> Record[S]: ...

    async def save_many(self, records: Sequence[Record[S]]) -> list[Record[S]]:
        """Save these records (distinct aggregates) in one bulk write: each whole or not at all, guarded by
        its version. ConcurrentWriteError if another writer came first to one; on it, as on any other
        failure, the others may be saved."""
        ...

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
