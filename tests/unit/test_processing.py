"""Applying events effectively once: one at a time, and a batch's messages as a unit of work."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from shared.aggregates import Outgoing, Record
from shared.memory import InMemoryAggregates
from shared.processing import UnitOfWork, apply_once, current_unit, load
from shared.retry import ConcurrentWriteError
from tests.examples import fact


class Counting(InMemoryAggregates[int]):
    """Aggregates that count their saves."""

    def __init__(self) -> None:
        super().__init__(int)
        self.saves = 0

    async def save(self, record: Record[int]) -> Record[int]:
        self.saves += 1
        return await super().save(record)


class Published:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, outgoing: Iterable[Outgoing]) -> None:
        self.calls.append([o.event_id for o in outgoing])


def adding(event_id: str, fail: bool = False) -> Any:
    """A decision that adds one to the state and emits one event named after its cause."""

    def decide(state: int | None) -> tuple[int, list[Outgoing]]:
        if fail:
            raise ValueError("cannot apply")
        return (state or 0) + 1, [Outgoing("t", "k", f"out-{event_id}", b"{}")]

    return decide


async def in_unit(store: Counting, publish: Published, *event_ids: str, fail_on: str = "") -> UnitOfWork:
    unit = UnitOfWork()
    token = current_unit.set(unit)
    try:
        for event_id in event_ids:
            await apply_once(store, "agg", fact(event_id), adding(event_id, event_id == fail_on), publish)
    finally:
        current_unit.reset(token)
    return unit


async def test_one_at_a_time_each_event_is_saved_and_published_once() -> None:
    store, publish = Counting(), Published()
    for event_id in ("e1", "e2", "e1"):
        await apply_once(store, "agg", fact(event_id), adding(event_id), publish)
    assert store.saves == 2 and (await store.load("agg")).state == 2
    assert publish.calls == [["out-e1"], ["out-e2"], ["out-e2"]]  # e1 again: what is not known published


async def test_a_unit_saves_the_aggregate_once_and_publishes_only_after_the_save() -> None:
    store, publish = Counting(), Published()
    unit = await in_unit(store, publish, "e1", "e2", "e3")
    assert store.saves == 0 and publish.calls == []  # nothing before the commit
    await unit.commit()
    record = await store.load("agg")
    assert (
        store.saves == 1 and record.state == 3 and record.applied == ("portal/e1", "portal/e2", "portal/e3")
    )
    assert [o.cause for o in record.outbox] == ["portal/e1", "portal/e2", "portal/e3"]
    assert publish.calls == [["out-e1", "out-e2", "out-e3"]]


async def test_a_unit_redelivered_saves_nothing_and_publishes_the_same_event_ids_again() -> None:
    store, publish = Counting(), Published()
    await (await in_unit(store, publish, "e1", "e2")).commit()
    await (await in_unit(store, publish, "e1", "e2", "e2")).commit()
    assert store.saves == 1
    assert publish.calls == [["out-e1", "out-e2"], ["out-e1", "out-e2"]]


async def test_a_unit_that_fails_before_its_commit_leaves_nothing_behind() -> None:
    store, publish = Counting(), Published()
    with pytest.raises(ValueError, match="cannot apply"):
        await in_unit(store, publish, "e1", "e2", fail_on="e2")
    assert store.saves == 0 and publish.calls == [] and (await store.load("agg")).version == 0


async def test_a_unit_whose_aggregate_another_writer_saved_meanwhile_is_refused() -> None:
    store, publish = Counting(), Published()
    unit = await in_unit(store, publish, "e1")
    await apply_once(store, "agg", fact("other"), adding("other"), publish)
    with pytest.raises(ConcurrentWriteError):
        await unit.commit()
    assert (await store.load("agg")).applied == ("portal/other",)


async def test_within_a_unit_the_aggregate_reads_as_applied_so_far() -> None:
    store, publish = Counting(), Published()
    unit = UnitOfWork()
    token = current_unit.set(unit)
    try:
        await apply_once(store, "agg", fact("e1"), adding("e1"), publish)
        assert (await load(store, "agg")).state == 1
    finally:
        current_unit.reset(token)
    assert (await load(store, "agg")).state is None  # outside the unit, not saved yet


class Bulk(InMemoryAggregates[int]):
    """Aggregates that note each bulk load and save; a load may fail as `failing` says."""

    def __init__(self, failing: BaseException | None = None) -> None:
        super().__init__(int)
        self.failing = failing
        self.loads: list[list[str]] = []
        self.saves: list[list[str]] = []

    async def load_many(self, aggregate_ids: Sequence[str]) -> dict[str, Record[int]]:
        self.loads.append(sorted(aggregate_ids))
        await asyncio.sleep(0)  # a query takes a while: the tasks not waiting yet may run meanwhile
        if self.failing is not None:
            raise self.failing
        return await super().load_many(aggregate_ids)

    async def save_many(self, records: Sequence[Record[int]]) -> list[Record[int]]:
        self.saves.append(sorted(r.id for r in records))
        return await super().save_many(records)


def applying(store: Bulk, publish: Published, *steps: tuple[str, str]) -> Any:
    """A task applying each (aggregate, event id) in order."""

    async def task() -> None:
        for aggregate_id, event_id in steps:
            await apply_once(store, aggregate_id, fact(event_id), adding(event_id), publish)

    return task()


async def test_a_units_tasks_load_together_once_all_wait_and_save_in_one_bulk_write() -> None:
    store, publish = Bulk(), Published()

    async def late() -> None:
        await asyncio.sleep(0.01)  # busy elsewhere while the others already wait for their loads
        await apply_once(store, "d", fact("d1"), adding("d1"), publish)

    unit = UnitOfWork()
    token = current_unit.set(unit)
    try:
        await unit.run(
            [
                lambda: applying(store, publish, ("a", "a1"), ("a", "a2")),
                lambda: applying(store, publish, ("b", "b1"), ("c", "c1")),  # then a second aggregate
                late,
            ]
        )
    finally:
        current_unit.reset(token)
    assert store.loads == [["a", "b", "d"], ["c"]] and store.saves == [] and publish.calls == []
    await unit.commit()
    assert store.saves == [["a", "b", "c", "d"]]
    assert sorted(publish.calls[0]) == ["out-a1", "out-a2", "out-b1", "out-c1", "out-d1"]
    assert [(await store.load(i)).state for i in "abcd"] == [2, 1, 1, 1]


async def test_a_failed_bulk_load_fails_every_task_waiting_for_it_and_none_hangs() -> None:
    store, publish = Bulk(AutoReconnect("db down")), Published()
    unit = UnitOfWork()
    token = current_unit.set(unit)
    try:
        with pytest.raises(AutoReconnect):
            await asyncio.wait_for(
                unit.run(
                    [
                        lambda: applying(store, publish, ("a", "a1")),
                        lambda: applying(store, publish, ("b", "b1")),
                    ]
                ),
                5,
            )
    finally:
        current_unit.reset(token)
    assert store.loads == [["a", "b"]] and store.saves == []


async def test_a_task_that_fails_before_loading_lets_the_others_load_and_the_unit_fails() -> None:
    store, publish = Bulk(), Published()

    async def failing() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("a bug")

    unit = UnitOfWork()
    token = current_unit.set(unit)
    try:
        with pytest.raises(ValueError, match="a bug"):
            await asyncio.wait_for(unit.run([lambda: applying(store, publish, ("a", "a1")), failing]), 5)
    finally:
        current_unit.reset(token)
    assert store.loads == [["a"]] and store.saves == []


class Kept(logging.Handler):
    """Keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_when_several_tasks_of_a_unit_fail_the_first_is_raised_and_each_other_is_logged() -> None:
    async def failing(n: int) -> None:
        await asyncio.sleep(0.001 * n)
        raise ValueError(f"bug {n}")

    unit, kept = UnitOfWork(), Kept()
    logger = logging.getLogger("envol.processing")
    level = logger.level
    logger.addHandler(kept)  # whatever other tests made of the "envol" loggers' levels and propagation
    logger.setLevel(logging.ERROR)
    try:
        with pytest.raises(ValueError, match="bug 1"):
            await unit.run([lambda n=n: failing(n) for n in (1, 2, 3)])
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
    assert [str(r.exc_info[1]) for r in kept.records if r.exc_info] == ["bug 2", "bug 3"]


async def test_after_a_round_the_woken_tasks_ask_their_next_questions_together() -> None:
    store, publish = Bulk(), Published()
    unit = UnitOfWork()
    token = current_unit.set(unit)
    try:
        await unit.run(
            [
                lambda: applying(store, publish, ("a", "a1"), ("c", "c1")),
                lambda: applying(store, publish, ("b", "b1"), ("d", "d1")),
            ]
        )
    finally:
        current_unit.reset(token)
    assert store.loads == [["a", "b"], ["c", "d"]]


class Undecodable(Bulk):
    """Aggregates of which one stored document no longer decodes."""

    async def load_many(self, aggregate_ids: Sequence[str]) -> dict[str, Record[int]]:
        self.loads.append(sorted(aggregate_ids))
        if "bad" in aggregate_ids:
            raise ValueError("the stored document of bad does not decode")
        return await InMemoryAggregates.load_many(self, aggregate_ids)


async def test_a_load_that_fails_for_good_fails_only_the_task_whose_aggregate_it_is() -> None:
    store, publish = Undecodable(), Published()
    unit = UnitOfWork()
    token = current_unit.set(unit)
    failed: list[str] = []

    async def guarded(work: Any, name: str) -> None:
        try:
            await work
        except ValueError:
            failed.append(name)  # as the consume protocol sets that one message aside

    try:
        await unit.run(
            [
                lambda: guarded(applying(store, publish, ("a", "a1")), "a"),
                lambda: guarded(applying(store, publish, ("bad", "x1")), "bad"),
                lambda: guarded(applying(store, publish, ("b", "b1")), "b"),
            ]
        )
    finally:
        current_unit.reset(token)
    await unit.commit()
    assert failed == ["bad"] and store.loads == [["a", "b", "bad"], ["a"], ["bad"], ["b"]]
    assert [(await store.load(i)).state for i in ("a", "b")] == [1, 1]


class Logged(InMemoryAggregates[int]):
    """Aggregates that write down, in one log shared with other stores, each bulk write they make."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(int)
        self.name, self.log = name, log

    async def save_many(self, records: Sequence[Record[int]]) -> list[Record[int]]:
        self.log.append(self.name)
        return await super().save_many(records)


async def test_a_unit_saves_its_stores_in_the_order_it_first_loaded_them_whatever_their_addresses() -> None:
    """A unit's stores are saved one bulk write after the other; the order must be the same in every
    process (the deterministic simulation replays a seed as one schedule), so never the stores' memory
    addresses (`id`), which differ from one process to the next."""
    for low_address_first in (True, False):
        log: list[str] = []
        first, second = sorted((Logged("x", log), Logged("y", log)), key=id, reverse=not low_address_first)
        unit = UnitOfWork()
        token = current_unit.set(unit)
        try:
            for store in (first, second):
                await apply_once(store, "agg", fact(f"e-{id(store)}"), adding("e"), Published())
        finally:
            current_unit.reset(token)
        await unit.commit()
        assert log == [first.name, second.name]


async def test_a_unit_cancelled_before_its_tasks_start_leaves_no_coroutine_unawaited() -> None:
    """A crash cancels a unit whose tasks were made but had not run yet: each task's work is begun inside
    it, so none is left a coroutine that was never awaited (RuntimeWarning)."""
    began: list[str] = []

    async def work() -> None:
        began.append("work")

    unit = UnitOfWork()
    running = asyncio.ensure_future(unit.run([work, work]))
    await asyncio.sleep(0)  # the unit has made its tasks, which have not started
    running.cancel()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(asyncio.CancelledError):
            await running
        for _ in range(3):  # the cancelled tasks end
            await asyncio.sleep(0)
        gc.collect()
    assert began == []
    assert not [w for w in caught if "never awaited" in str(w.message)]
