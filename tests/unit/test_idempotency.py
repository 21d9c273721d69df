"""Bounded idempotency and an outbox that keeps order when an aggregate is written from several partitions."""

from __future__ import annotations

from collections.abc import Iterable

import bson

from shared.aggregates import APPLIED_WINDOW, Outgoing, Position, to_document
from shared.memory import InMemoryAggregates
from shared.processing import apply_once, current_position
from tests.examples import fact


class Published:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, outgoing: Iterable[Outgoing]) -> None:
        self.calls.append([o.event_id for o in outgoing])


def adding(event_id: str):  # type: ignore[no-untyped-def]
    def decide(state: int | None) -> tuple[int, list[Outgoing]]:
        return (state or 0) + 1, [Outgoing("t", "k", f"out-{event_id}", b"{}")]

    return decide


async def deliver(
    store: InMemoryAggregates[int], publish: Published, event_id: str, source: str, offset: int
) -> None:
    """Apply one event as the consume loop does: at its position."""
    token = current_position.set(Position(source, offset))
    try:
        await apply_once(store, "agg", fact(event_id), adding(event_id), publish)
    finally:
        current_position.reset(token)


async def test_a_redelivery_is_recognised_by_its_offset_after_its_id_left_the_window() -> None:
    store, publish = InMemoryAggregates[int](int), Published()
    for offset in range(APPLIED_WINDOW + 10):
        await deliver(store, publish, f"e{offset}", "envol.application.intake:0", offset)
    assert "e0" not in (await store.load("agg")).applied
    await deliver(store, publish, "e0", "envol.application.intake:0", 0)
    assert (await store.load("agg")).state == APPLIED_WINDOW + 10
    assert publish.calls[-1] == [f"out-e{APPLIED_WINDOW + 9}"]  # only what is not known published


async def test_a_republished_copy_at_a_new_offset_is_recognised_by_its_id() -> None:
    store, publish = InMemoryAggregates[int](int), Published()
    await deliver(store, publish, "e1", "envol.vetting.events:0", 7)
    await deliver(
        store, publish, "e1", "envol.vetting.events:0", 9
    )  # the same event, published again after a crash
    assert (await store.load("agg")).state == 1


async def test_an_event_past_the_offset_mark_with_a_new_id_is_applied() -> None:
    store, publish = InMemoryAggregates[int](int), Published()
    await deliver(store, publish, "e1", "envol.vetting.events:0", 7)
    await deliver(
        store, publish, "e2", "envol.vetting.events:1", 3
    )  # a lower offset, but of another partition
    await deliver(store, publish, "e3", "envol.vetting.events:0", 8)
    assert (await store.load("agg")).state == 3


async def test_one_key_after_100000_events_stays_a_small_document() -> None:
    store, publish = InMemoryAggregates[int](int), Published()
    for offset in range(100_000):
        await deliver(
            store,
            publish,
            f"refused-fact-{offset:06d}-of-one-application",
            "envol.application.intake:0",
            offset,
        )
    record = await store.load("agg")
    size = len(bson.encode(to_document(record)))
    assert record.state == 100_000 and len(record.applied) == APPLIED_WINDOW
    assert size < 8 * 1024, size  # was 4.7 MB at 100,000 ids; MongoDB refuses documents over 16 MiB


async def test_a_save_from_another_partition_republishes_first_what_the_save_before_left_unconfirmed() -> (
    None
):
    store, publish = InMemoryAggregates[int](int), Published()
    await deliver(store, publish, "a", "envol.application.events:0", 5)  # saved; say the process died here
    await deliver(store, publish, "b", "envol.vetting.intake:0", 3)  # another partition writes the aggregate
    assert publish.calls[-1] == ["out-a", "out-b"]  # a first: per-key order holds whatever the crash
    await deliver(store, publish, "a", "envol.application.events:0", 5)  # the redelivery of a
    assert publish.calls[-1] == ["out-a", "out-b"]  # all not known published, in order: what follows
    # a redelivery (tidying side collections) may rely on every event its record's state implies being out


async def test_a_save_from_the_partition_of_the_save_before_publishes_only_its_own_events() -> None:
    store, publish = InMemoryAggregates[int](int), Published()
    await deliver(store, publish, "a", "envol.application.events:0", 5)
    await deliver(store, publish, "b", "envol.vetting.intake:0", 3)
    await deliver(store, publish, "c", "envol.vetting.intake:0", 4)  # b was processed first: all published
    assert publish.calls[-1] == ["out-c"]
    assert [o.event_id for o in (await store.load("agg")).outbox] == ["out-c"]
