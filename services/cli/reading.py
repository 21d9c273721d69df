"""Read the system's topics: everything so far, or live from now on."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from shared.contracts.codec import ContractError, decode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.settings import Settings

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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
    topics: Sequence[Topic] = tuple(Topic),
    *,
    follow: bool = False,
    from_start: bool | None = None,
) -> AsyncIterator[Seen]:
    """Yield records from the start of `topics` until their current end, or forever when `follow` (from
    now on, unless `from_start`)."""
    names = [settings.topic(t) for t in topics]
    async for record in records(settings, names, follow=follow, from_start=from_start):
        yield as_seen(settings, record)


async def records(
    settings: Settings, names: Sequence[str], *, follow: bool = False, from_start: bool | None = None
) -> AsyncIterator[ConsumerRecord[Any, Any]]:
    """Yield the raw records of broker-side topics until their current end, or forever when `follow`; from
    their start unless following (then from now on, unless `from_start`)."""
    earliest = not follow if from_start is None else from_start
    consumer = AIOKafkaConsumer(
        *names, **client_options(settings), enable_auto_commit=False,
        auto_offset_reset="earliest" if earliest else "latest",
    )  # fmt: skip
    try:
        await consumer.start()  # a broker out of reach: stopped below all the same, so nothing is left open
        ends = {} if follow else await consumer.end_offsets(list(consumer.assignment()))
        remaining = {tp for tp, end in ends.items() if end > 0}
        while follow or remaining:
            batch = await consumer.getmany(timeout_ms=500)
            for partition, found in batch.items():
                for record in found:
                    yield record
                if not follow and found and found[-1].offset + 1 >= ends[partition]:
                    remaining.discard(partition)
    finally:
        await consumer.stop()


def as_seen(settings: Settings, record: ConsumerRecord[Any, Any]) -> Seen:
    """Return a record as seen by the tools: its event when it decodes as one of its topic, else None."""
    topic = settings.contract_topic(record.topic)
    event = None
    if topic != Topic.DEAD_LETTER:
        try:
            event = decode(topic, record.value)
        except ContractError:
            event = None
    return Seen(topic, record.partition, record.offset, _stamp(record.timestamp), record, event)


def _stamp(millis: int) -> dt.datetime:
    """Return a record's timestamp; one no calendar holds (any producer may set it) reads as the epoch."""
    try:
        return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return EPOCH


async def read_all(settings: Settings, topics: Sequence[Topic] = tuple(Topic)) -> list[Seen]:
    """Return every record written so far, ordered by time."""
    seen = [s async for s in read(settings, topics)]
    return sorted(seen, key=lambda s: (s.timestamp, s.topic, s.offset))
