"""Apply one event to one aggregate, effectively once, and publish what it produced."""

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

    A redelivered event changes nothing and emits nothing new, but publishes again what its first
    delivery stored, in case the crash came before the broker had it: the same event ids, absorbed
    downstream. The caller commits the message's offset only after this returns.
    """
    return await apply_to(store, await store.load(aggregate_id), event_id, decide, publish)


async def apply_to(
    store: Aggregates[S], record: Record[S], event_id: str, decide: Decide[S], publish: Publish
) -> Record[S]:
    """`apply_once` on a record the caller has just loaded."""
    if not record.has_applied(event_id):
        state, outgoing = decide(record.state)
        record = await store.save(record.applying(event_id, state, outgoing))
    await publish(record.outbox_for(event_id))
    return record
