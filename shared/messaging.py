"""The Kafka side every service shares: the broker factory, the consume loop, dead letters, publishing."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from fast_depends.msgspec import MsgSpecSerializer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.aggregates import Outgoing
from shared.contracts.codec import ContractError, decode, events_of
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.processing import Publish, UnitOfWork, current_unit
from shared.retry import GaveUpError, is_transient, retry_in_place
from shared.settings import Settings

log = logging.getLogger("envol.messaging")

Handle = Callable[[str, Event], Awaitable[None]]

EXIT_GAVE_UP = 75  # EX_TEMPFAIL: a dependency stayed down; a supervisor restarts the service


def make_broker(settings: Settings, client_id: str) -> KafkaBroker:
    """Return a broker whose producer is durable: acks from all in-sync replicas, idempotent."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers.split(","),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        serializer=MsgSpecSerializer(),
        graceful_timeout=10.0,
    )


def publisher(broker: KafkaBroker, settings: Settings, topics: Sequence[Topic]) -> Publish:
    """Declare a documented publisher per topic; return a function that publishes outbox entries to them.

    Each entry is keyed by its subject and sent with the broker's ack awaited, so an outbox entry is marked
    sent only once it is durable.
    """
    publishers = {
        topic.value: broker.publisher(
            settings.topic(topic),
            title=f"{settings.topic(topic)}:publish",
            description=topic_doc(topic),
        )
        for topic in topics
    }

    async def publish(outgoing: Iterable[Outgoing]) -> None:
        sent = [
            await publishers[item.topic].publish(
                item.value, key=item.key.encode(), headers={"event-id": item.event_id}, no_confirm=True
            )
            for item in outgoing
        ]
        await asyncio.gather(*sent)  # every entry durable before the outbox is marked sent

    return publish


def topic_doc(topic: Topic) -> str:
    """Return a one-line description of a topic for the AsyncAPI document."""
    names = ", ".join(cls.__name__ for cls in events_of(topic))
    return f"JSON events keyed by subject id: {names}."


def _safe_reason(error: BaseException) -> str:
    """Return a short reason without quoted values, so no personal data reaches headers or logs."""
    return re.sub(r"'[^']*'", "'…'", str(getattr(error, "reason", error)))[:300]


async def dead_letter(
    broker: KafkaBroker, settings: Settings, record: ConsumerRecord[Any, Any], error: BaseException
) -> None:
    """Publish the original bytes to the dead-letter topic, with where they came from and why."""
    headers = {
        "origin-topic": record.topic,
        "origin-partition": str(record.partition),
        "origin-offset": str(record.offset),
        "error-class": type(error).__name__,
        "error-reason": _safe_reason(error),
    }
    await broker.publish(
        record.value or b"", topic=settings.topic(Topic.DEAD_LETTER), key=record.key, headers=headers
    )
    log.warning(
        "dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, headers["error-reason"]
    )


async def raw_body(message: KafkaMessage) -> bytes:
    """Leave the body as bytes: the contracts' codec is the only decoder (FastStream's JSON decoding
    would raise on hostile input, such as deep nesting, before our dead-letter handling runs)."""
    return message.body


def subscribe(
    broker: KafkaBroker,
    settings: Settings,
    group_id: str,
    topics: Sequence[Topic],
    handle: Handle,
    exclusive: Exclusive = lambda topic, event: False,
    coalesce: bool = False,
) -> None:
    """Consume `topics` in batches: decode, handle, then commit the batch; poison to the dead-letter topic.

    A replica with a stable name (`instance`) is a static group member: restarted after a crash, it takes
    its partitions back at once instead of waiting for the session timeout and a rebalance.

    One consumer for all of a service's topics, and the range assignor gives one instance the same
    partition of every topic, so one writer handles each volunteer's key. Within a batch, messages of
    different keys are handled concurrently and those of one key in order; an `exclusive` message (one
    that touches other keys' aggregates) is handled alone, after what came before it. With `coalesce`,
    one key's messages of a batch are one `UnitOfWork`: applied in memory, saved once, then published.
    """

    async def step(record: ConsumerRecord[Any, Any], topic: str, event: Event | ContractError) -> None:
        if isinstance(event, ContractError):
            await set_aside(record, event)
            return
        try:
            await handle(topic, event)
        except Exception as error:
            if is_transient(error):
                raise  # retried in place below
            log.debug("handler failure", exc_info=True)  # cannot be applied: set aside, never skipped
            await set_aside(record, error)

    async def set_aside(record: ConsumerRecord[Any, Any], error: BaseException) -> None:
        unit = current_unit.get()
        if unit is None:
            await dead_letter(broker, settings, record, error)
        else:
            unit.defer(lambda: dead_letter(broker, settings, record, error))

    async def as_one_unit(items: list[Decoded]) -> None:
        unit = UnitOfWork()
        token = current_unit.set(unit)
        try:
            for record, topic, event in items:
                await step(record, topic, event)
        finally:
            current_unit.reset(token)
        try:
            await unit.commit()
        except Exception as error:
            if is_transient(error):
                raise
            failure = type(error).__name__
            log.warning("a unit of %d messages cannot be saved (%s); one at a time", len(items), failure)
            await one_at_a_time(items)  # the message that cannot be saved is then dead-lettered alone

    async def one_at_a_time(items: list[Decoded]) -> None:
        for record, topic, event in items:
            await retried(record, lambda: step(record, topic, event))  # noqa: B023 - awaited here

    limit = asyncio.Semaphore(settings.concurrency)

    async def in_order(items: list[Decoded]) -> None:
        async with limit:
            if coalesce:
                await retried(items[0][0], lambda: as_one_unit(items))
            else:
                await one_at_a_time(items)

    async def retried(record: ConsumerRecord[Any, Any], attempt: Callable[[], Awaitable[None]]) -> None:
        try:
            await retry_in_place(
                attempt, attempts=settings.retry_attempts, base_seconds=settings.retry_base_seconds
            )
        except GaveUpError as error:
            log.critical(
                "giving up on %s[%d]@%d: %s; exiting", record.topic, record.partition, record.offset, error
            )
            os._exit(EXIT_GAVE_UP)

    async def on_batch(message: KafkaMessage) -> None:
        records: tuple[ConsumerRecord[Any, Any], ...] = message.raw_message
        for segment in segments([_decoded(settings, record) for record in records], exclusive):
            await asyncio.gather(*(in_order(items) for items in by_key(segment)))
        await message.ack()  # commits the whole batch, every effect stored

    broker.subscriber(
        *(settings.topic(topic) for topic in topics),
        batch=True,
        max_records=settings.batch_size,
        batch_timeout_ms=50,
        decoder=raw_body,
        title=f"{group_id}:consume",
        description=" ".join(f"{settings.topic(t)}: {topic_doc(t)}" for t in topics),
        group_id=group_id,
        group_instance_id=f"{group_id}.{settings.instance}" if settings.instance else None,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        partition_assignment_strategy=(RangePartitionAssignor,),
        max_poll_interval_ms=600_000,
        session_timeout_ms=6_000,  # a killed instance's partitions move on after 6 s, not 10
        heartbeat_interval_ms=1_500,
    )(on_batch)


Decoded = tuple[Any, str, Event | ContractError]  # (record, contract topic, event or why it is not one)
Exclusive = Callable[[str, Event], bool]


def _decoded(settings: Settings, record: ConsumerRecord[Any, Any]) -> Decoded:
    topic = settings.contract_topic(record.topic)
    try:
        return record, topic, decode(topic, record.value)
    except ContractError as error:
        return record, topic, error


def segments(items: list[Decoded], exclusive: Exclusive) -> list[list[Decoded]]:
    """Split a batch so that each exclusive message forms a segment of its own, in order."""
    found: list[list[Decoded]] = [[]]
    for item in items:
        _, topic, event = item
        if not isinstance(event, ContractError) and exclusive(topic, event):
            found.extend([[item], []])
        else:
            found[-1].append(item)
    return [segment for segment in found if segment]


def by_key(items: list[Decoded]) -> list[list[Decoded]]:
    """Group messages by Kafka key, keeping each key's order."""
    groups: dict[bytes | None, list[Decoded]] = {}
    for item in items:
        groups.setdefault(item[0].key, []).append(item)
    return list(groups.values())
