"""Read the system's topics: everything so far, or live from now on."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.cli.output import progress_bar
from shared.contracts.codec import ContractError, decode_sent
from shared.contracts.envelope import Event
from shared.contracts.topics import TOPICS, Topic
from shared.kafka import client_options
from shared.settings import Settings

log = logging.getLogger("envol.reading")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
T = TypeVar("T")

ScanProgress = Callable[[int, int], None]  # (records read so far, records to read), as a scan goes on
_scan_progress: ContextVar[ScanProgress | None] = ContextVar("scan_progress", default=None)


class Seen(msgspec.Struct, frozen=True):
    """One record read from a topic, decoded when it is an event (None for any bytes that are not one)."""

    topic: str
    partition: int
    offset: int
    timestamp: dt.datetime
    record: Any
    event: Event | None


async def read(
    settings: Settings,
    topics: Sequence[str] = TOPICS,
    *,
    follow: bool = False,
    from_start: bool | None = None,
    starting: Mapping[str, int] | None = None,
) -> AsyncIterator[Seen]:
    """Yield records from the start of `topics` until their current end, or forever when `follow` (from
    now on, unless `from_start`); a partition `starting` names, from the offset it gives."""
    names = [settings.topic(t) for t in topics]
    async for record in records(settings, names, follow=follow, from_start=from_start, starting=starting):
        yield as_seen(settings, record)


def position_key(topic: str, partition: int) -> str:
    """How `starting` names a partition of a broker-side topic."""
    return f"{topic}:{partition}"


async def records(
    settings: Settings,
    names: Sequence[str],
    *,
    follow: bool = False,
    from_start: bool | None = None,
    starting: Mapping[str, int] | None = None,
) -> AsyncIterator[ConsumerRecord[Any, Any]]:
    """Yield the raw records of broker-side topics until their current end, or forever when `follow`; from
    their start unless following (then from now on, unless `from_start`), or from the offset `starting`
    gives a partition (`position_key`; records retention deleted since are said in the log). A scan to the
    end tells the progress of `reporting_scans` how far it has read."""
    earliest = not follow if from_start is None else from_start
    consumer = AIOKafkaConsumer(
        *names, **client_options(settings), enable_auto_commit=False,
        auto_offset_reset="earliest" if earliest else "latest",
    )  # fmt: skip
    progress = None if follow else _scan_progress.get()
    try:
        await consumer.start()  # a broker out of reach: stopped below all the same, so nothing is left open
        partitions = list(consumer.assignment())
        starts = await _seek(consumer, partitions, starting or {})
        scan = Scan({}, {})
        if not follow:
            ends = await consumer.end_offsets(partitions)
            first = await consumer.beginning_offsets(partitions) if earliest else ends
            scan = Scan(first | starts, ends)
        if progress:
            progress(scan.read, scan.total)
        while follow or scan.remaining:
            batch = await consumer.getmany(timeout_ms=500)
            for partition, found in batch.items():
                for record in found:
                    yield record
                if found:
                    scan.reached(partition, found[-1].offset + 1)
            if progress and batch:
                progress(scan.read, scan.total)
    finally:
        await consumer.stop()


async def log_starts(settings: Settings, topics: Sequence[str] = TOPICS) -> dict[str, int]:
    """The first offset each partition of `topics` still holds, by its topic's name in the contracts
    (`position_key`, as a `Seen` names it): past 0 where retention or an erasure's cut deleted records,
    even those it emptied."""
    names = [settings.topic(t) for t in topics]
    consumer = AIOKafkaConsumer(*names, **client_options(settings), enable_auto_commit=False)
    try:
        await consumer.start()
        partitions = list(consumer.assignment())  # every partition of the topics (no group: all of them)
        starts = await consumer.beginning_offsets(partitions) if partitions else {}
        return {
            position_key(settings.contract_topic(p.topic), p.partition): offset
            for p, offset in starts.items()
        }
    finally:
        await consumer.stop()


async def _seek(
    consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition], starting: Mapping[str, int]
) -> dict[TopicPartition, int]:
    """Move each partition `starting` names to its offset (to the first record kept, when retention
    deleted records since: how many is logged); return where they start."""
    wanted = {p: starting[key] for p in partitions if (key := position_key(p.topic, p.partition)) in starting}
    if not wanted:
        return {}
    kept = await consumer.beginning_offsets(list(wanted))
    starts = {}
    for partition, offset in wanted.items():
        starts[partition] = max(offset, kept[partition])
        if offset < kept[partition]:
            log.warning(
                "%d records of %s:%d were deleted by retention before they were read",
                kept[partition] - offset, partition.topic, partition.partition,
            )  # fmt: skip
        consumer.seek(partition, starts[partition])
    return starts


class Scan:
    """How far a read of partitions has gone, from their start offsets to the end offsets they had when it
    began (records written since are yielded too, but not waited for)."""

    def __init__(self, starts: Mapping[TopicPartition, int], ends: Mapping[TopicPartition, int]) -> None:
        self.ends = dict(ends)
        self.starts = {partition: min(starts.get(partition, 0), end) for partition, end in self.ends.items()}
        self.positions = dict(self.starts)

    def reached(self, partition: TopicPartition, position: int) -> None:
        """Note that `partition` was read up to `position` (the offset after the last record yielded)."""
        if partition in self.positions:
            self.positions[partition] = max(self.positions[partition], min(position, self.ends[partition]))

    @property
    def remaining(self) -> set[TopicPartition]:
        """The partitions not read to their end yet (an empty one, or one emptied by retention, is not)."""
        return {partition for partition, end in self.ends.items() if self.positions[partition] < end}

    @property
    def total(self) -> int:
        """The records to read: the end offsets minus the start offsets."""
        return sum(end - self.starts[partition] for partition, end in self.ends.items())

    @property
    def read(self) -> int:
        """The records read so far, out of `total` (offsets, so a compacted-away record counts as read)."""
        return sum(self.positions[partition] - self.starts[partition] for partition in self.ends)


@contextlib.contextmanager
def reporting_scans(progress: ScanProgress | None) -> Iterator[None]:
    """Tell `progress` how far each scan to the topics' end started inside the block has read (None: no
    one is told). Ambient rather than an argument, so `audit` and `dead_letters` keep their signatures."""
    token = _scan_progress.set(progress)
    try:
        yield
    finally:
        _scan_progress.reset(token)


def run_showing_progress(reading: Coroutine[Any, Any, T]) -> T:
    """Run a command's reading, with a progress bar of the records its scans read on stderr (on a terminal
    only: stdout, and a script's or a test's stderr, get nothing of it)."""
    with progress_bar("reading topics") as progress, reporting_scans(progress):
        return asyncio.run(reading)


def as_seen(settings: Settings, record: ConsumerRecord[Any, Any]) -> Seen:
    """Return a record as seen by the tools: its event as the services read it (`decode_sent`: an intake
    fact bound to its key and its sender, who is its producer), else None, as for any bytes a service would
    set aside (a fact under another key, for another party or another host)."""
    topic = settings.contract_topic(record.topic)
    event = None
    if topic != Topic.DEAD_LETTER:
        try:
            event = decode_sent(topic, record.key, record.value)
        except ContractError:
            event = None
    return Seen(topic, record.partition, record.offset, _stamp(record.timestamp), record, event)


def _stamp(millis: int) -> dt.datetime:
    """Return a record's timestamp; one no calendar holds (any producer may set it) reads as the epoch."""
    try:
        return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return EPOCH


def first_copies(seen: Sequence[Seen]) -> list[Seen]:
    """Drop the copies of an event published again (same `copy_identity`; after a crash, or an outbox's
    entries another partition may not have published): its readers apply it once."""
    firsts, identities = [], set()
    for item in seen:
        if item.event is not None and (identity := copy_identity(item)) not in identities:
            identities.add(identity)
            firsts.append(item)
    return firsts


def copy_identity(seen: Seen) -> bytes:
    """What a reader recognises the copies of an event by (a digest): its id as its producer's own, on its
    own topic (its one writer)."""
    assert seen.event is not None
    return digest(f"{seen.topic}|{seen.event.identity}")


def digest(*parts: str) -> bytes:
    """A value kept without being readable (16 bytes of BLAKE2b of its parts)."""
    return hashlib.blake2b("\x1f".join(parts).encode(errors="replace"), digest_size=16).digest()


async def read_all(settings: Settings, topics: Sequence[str] = TOPICS) -> list[Seen]:
    """Return every record written so far, ordered by time."""
    seen = [s async for s in read(settings, topics)]
    return sorted(seen, key=lambda s: (s.timestamp, s.topic, s.offset))
