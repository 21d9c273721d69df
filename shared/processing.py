"""Apply one event to one aggregate, effectively once, then relay its outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from shared.aggregates import Aggregates, Outgoing, Record

S = TypeVar("S")
Publish = Callable[[Iterable[Outgoing]], Awaitable[None]]
Decide = Callable[[S | None], tuple[S | None, Iterable[Outgoing]]]


async def apply_once(
    store: Aggregates[S], aggregate_id: str, event_id: str, decide: Decide[S], publish: Publish
) -> Record[S]:
    """Apply `decide` to the aggregate unless `event_id` was applied already; then publish its outbox.

    A redelivered event changes nothing and emits nothing new, but still publishes what an earlier
    attempt stored and did not get to send.
    """
    record = await store.load(aggregate_id)
    if not record.has_applied(event_id):
        state, outgoing = decide(record.state)
        record = await store.save(record.applying(event_id, state, outgoing))
    return await relay(store, record, publish)


async def relay(store: Aggregates[S], record: Record[S], publish: Publish) -> Record[S]:
    """Publish a record's outbox, then mark it sent; a crash in between republishes the same event ids."""
    if not record.outbox:
        return record
    await publish(record.outbox)
    return await store.save(record.sent())


async def relay_all_pending(store: Aggregates[S], publish: Publish) -> int:
    """Publish every outbox left pending by an earlier run (called at start-up); return how many."""
    records = await store.pending()
    for record in records:
        await relay(store, record, publish)
    return len(records)
