"""The operators' read model survives its topics: the console restores its latest snapshot and folds only
the records since, so what retention deleted still counts, and the result is the same as folding all."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.cli.reading import Seen, position_key
from services.cli.stages import stages
from services.console import app as console_app
from services.console.app import Console
from services.console.snapshots import Positions, Snapshot
from services.console.view import View
from shared.contracts.application import ErasureCompleted
from shared.contracts.codec import encode
from shared.contracts.topics import Topic
from tests.unit.test_console import LIFECYCLE, SETTINGS, event_of, lifecycle_view, seen_of

T0 = 1_767_261_600_000  # a record timestamp, in milliseconds
RECORDS = [  # one volunteer's way to arrival, as the topics hold it, each topic's offsets from 0
    seen_of(topic, encode(event_of(topic, event_type)), n) for n, (topic, event_type) in enumerate(LIFECYCLE)
]


class MemorySnapshots:
    """Snapshots kept as the bytes the database would keep."""

    def __init__(self) -> None:
        self.latest: tuple[bytes, Positions] | None = None
        self.saved = asyncio.Event()

    async def save(self, view: View, positions: Positions) -> int:
        data = view.snapshot()
        self.latest = data, dict(positions)
        self.saved.set()
        await asyncio.sleep(0)
        return len(data)

    async def load(self) -> Snapshot | None:
        if self.latest is None:
            return None
        data, positions = self.latest
        return Snapshot(View.restored(data), positions, dt.datetime.now(dt.UTC))


def topics_holding(kept: Sequence[Seen]) -> Any:
    """A stand-in for `read` over topics that hold `kept` (retention took the rest), from `starting`."""

    async def read(
        settings: Any, topics: Any, *, follow: bool, from_start: bool, starting: Mapping[str, int]
    ) -> AsyncIterator[Seen]:
        for seen in kept:
            if seen.offset >= starting.get(position_key(seen.record.topic, seen.partition), 0):
                yield seen
        await asyncio.Event().wait()  # following: nothing more comes

    return read


async def follow_until(console: Console, records: int) -> None:
    task = asyncio.create_task(console.follow())
    async with console.changed:  # notified after every record folded
        await console.changed.wait_for(lambda: console.view.records >= records)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_restored_snapshot_is_the_view_it_was_taken_of() -> None:
    view = lifecycle_view()
    restored = View.restored(view.snapshot())
    assert restored == view
    assert restored.funnel() == view.funnel() and restored.open_openings() == view.open_openings()


async def test_a_console_restarted_after_retention_still_counts_what_it_folded_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snapshots = MemorySnapshots()
    first = Console(SETTINGS, snapshots)  # type: ignore[arg-type]
    monkeypatch.setattr(console_app, "read", topics_holding(RECORDS[:6]))
    await follow_until(first, 6)
    await snapshots.save(first.view, first.positions)
    # retention deletes the first records; four more arrive; the console restarts
    monkeypatch.setattr(console_app, "read", topics_holding(RECORDS[6:]))
    again = Console(SETTINGS, snapshots)  # type: ignore[arg-type]
    await follow_until(again, len(RECORDS))
    assert again.view.volunteers["app-1"].stage == "9 arrived"
    assert again.view == lifecycle_view()  # the same as folding every record once
    assert again.positions[position_key(Topic.DEPARTURE_EVENTS, 0)] == len(RECORDS)


async def test_without_a_snapshot_the_console_folds_the_topics_from_their_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console_app, "read", topics_holding(RECORDS))
    console = Console(SETTINGS, MemorySnapshots())  # type: ignore[arg-type]
    await follow_until(console, len(RECORDS))
    assert console.view == lifecycle_view()


async def test_a_view_changed_since_the_last_snapshot_is_saved_and_an_unchanged_one_is_not() -> None:
    snapshots = MemorySnapshots()
    console = Console(SETTINGS, snapshots)  # type: ignore[arg-type]
    await console.restore()
    keeping = asyncio.create_task(console.keep_snapshots(every=0))
    await asyncio.sleep(0.01)
    assert snapshots.latest is None  # nothing folded yet: nothing to save
    for seen in RECORDS:
        console.view.apply(seen)
        console.positions[position_key(seen.record.topic, seen.partition)] = seen.offset + 1
    await snapshots.saved.wait()
    saved = snapshots.latest
    await asyncio.sleep(0.01)
    assert snapshots.latest is saved  # no change since: not saved again
    keeping.cancel()
    assert View.restored(saved[0]) == lifecycle_view()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_reading_order_gives_the_stage_the_records_give_in_time_order(data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(range(len(LIFECYCLE))), min_size=1, unique=True))
    order = data.draw(st.permutations(chosen))
    stamped = [  # each record a second after the one before it in the lifecycle
        seen_of(topic, encode(event_of(topic, event_type)), n, timestamp=T0 + n * 1000)
        for n, (topic, event_type) in enumerate(LIFECYCLE)
    ]
    view = View()
    for n in order:
        view.apply(stamped[n])
    in_time = [stamped[n].event for n in sorted(chosen) if stamped[n].event is not None]
    assert view.stages == stages(in_time)


def test_an_erasure_read_before_the_applications_other_records_counts_once() -> None:
    view = View()
    for producer, topic in (("application", Topic.APPLICATION_EVENTS), ("vetting", Topic.VETTING_EVENTS)):
        erased = ErasureCompleted(subject_id="vol-1", producer=producer, application_id="app-1")
        view.apply(seen_of(topic, encode(erased), 1))
    for seen in RECORDS:
        view.apply(seen)
    stages_found, _, counts = view.funnel()
    assert stages_found == ["x erased"] and sum(counts.values()) == 1 and "app-1" not in view.stages


class Unreadable(MemorySnapshots):
    async def load(self) -> Snapshot | None:
        raise ConnectionError("the database is out of reach")


async def test_a_snapshot_that_cannot_be_read_is_never_replaced_by_a_view_rebuilt_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console_app, "read", topics_holding(RECORDS))
    snapshots = Unreadable()
    console = Console(SETTINGS, snapshots)  # type: ignore[arg-type]
    following = asyncio.create_task(console.follow())
    keeping = asyncio.create_task(console.keep_snapshots(every=0))
    async with console.changed:
        await console.changed.wait_for(lambda: "snapshot" in console.problems)
    await asyncio.sleep(0.05)
    assert console.view.records == 0 and snapshots.latest is None  # nothing folded, nothing saved
    following.cancel()
    keeping.cancel()


def test_a_snapshot_saved_before_the_history_keeps_the_seats_its_view_counted_held() -> None:
    """Before the audit's history, the view counted each opening's held seats itself: restored from such a
    snapshot, those seats are still held (and given back by what comes next); the records it had folded
    count as not audited."""
    view = lifecycle_view()
    fields = msgspec.msgpack.decode(view.snapshot())
    fields.pop("history")
    for opening in fields["openings"].values():
        opening["held"] = ["pl-1"]  # as the view's own bookkeeping kept it
    fields["folded"] = [f"{s.topic}|{s.event.identity}" for s in RECORDS if s.event]  # in clear, then
    old = msgspec.msgpack.encode(fields)
    restored = View.restored(old, history_from={f"{Topic.PLACEMENT_EVENTS}:0": 7})
    assert restored.open_openings()[0].held == {"pl-1"} and restored.history.missed == 7
    steps = len(restored.volunteers["app-1"].steps)
    restored.apply(RECORDS[-1])  # a copy of an event the old view had folded: still skipped
    assert len(restored.volunteers["app-1"].steps) == steps
    assert all(len(kept) == 16 for kept in restored.folded)  # digests, not ids
    assert all(not o.held for o in restored.openings.values())  # the history counts them now
    cancelled = seen_of(
        Topic.PLACEMENT_EVENTS, encode(event_of(Topic.PLACEMENT_EVENTS, "PlacementCancelled")), 7
    )
    restored.apply(cancelled)
    assert restored.open_openings()[0].held == set()


def test_a_restored_history_counts_the_seats_held_as_the_one_it_was_saved_from() -> None:
    view = lifecycle_view()
    restored = View.restored(view.snapshot())
    assert restored.history == view.history and restored.history.holding == view.history.holding != {}
