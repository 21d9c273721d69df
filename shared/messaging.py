"""The Kafka side every service shares: the broker factory, the consume loop, dead letters, publishing."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn, cast

from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from fast_depends.msgspec import MsgSpecSerializer
from faststream import AckPolicy
from faststream._internal.types import BrokerMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.publisher.producer import AioKafkaFastProducerImpl

from shared import metrics
from shared.admin import MAX_DEAD_LETTER_BYTES
from shared.aggregates import Outgoing
from shared.consuming import BatchProtocol, Coalesce, Consumed, Exclusive, Handle
from shared.contracts.codec import events_of
from shared.contracts.topics import Topic
from shared.health import Assignment
from shared.kafka import broker_connection
from shared.processing import Publish
from shared.renewal import Renewal
from shared.retry import is_transient
from shared.settings import Settings

log = logging.getLogger("envol.messaging")

EXIT_GAVE_UP = 75  # EX_TEMPFAIL: a dependency stayed down; a supervisor restarts the service
MAX_STUB_KEY_BYTES = 1024


def make_broker(
    settings: Settings, client_id: str, middlewares: Sequence[BrokerMiddleware[Any, Any]] = ()
) -> KafkaBroker:
    """Return a broker whose producer is durable: acks from all in-sync replicas, idempotent."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers.split(","),
        **broker_connection(settings),
        client_id=client_id,
        middlewares=middlewares,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=MAX_DEAD_LETTER_BYTES,  # a dead letter carries a whole accepted message
        serializer=MsgSpecSerializer(),
        graceful_timeout=10.0,
    )


_renewals: weakref.WeakKeyDictionary[KafkaBroker, Renewal] = weakref.WeakKeyDictionary()


def renewal_of(broker: KafkaBroker) -> Renewal:
    """The one renewal of a broker's producer (`shared.renewal`), shared by its publishers and its dead
    letters. FastStream offers no public way to replace the aiokafka producer it holds, so this reaches
    into two of its attributes; tests/integration/test_producer_renewal.py fails if they change."""
    if broker not in _renewals:

        async def replace() -> None:
            producer = cast(AioKafkaFastProducerImpl, broker.config.producer)
            refused = producer._producer  # FastStream's RealProducer, around the aiokafka one
            fresh = AIOKafkaProducer(**broker._connection_kwargs)  # the options the broker was made with
            await producer.connect(fresh, serializer=producer.serializer, codec=producer.codec)
            await refused.stop()

        _renewals[broker] = Renewal(replace)
    return _renewals[broker]


def publisher(broker: KafkaBroker, settings: Settings, topics: Sequence[str]) -> Publish:
    """Declare a documented publisher per topic; return a function that publishes outbox entries to them.

    Each entry is keyed by its subject and sent with the broker's ack awaited, so an outbox entry is marked
    sent only once it is durable.
    """
    publishers = {
        str(topic): broker.publisher(
            settings.topic(topic),
            title=f"{settings.topic(topic)}:publish",
            description=topic_doc(topic),
        )
        for topic in topics
    }

    renewal = renewal_of(broker)

    async def publish(outgoing: Iterable[Outgoing]) -> None:
        items = list(outgoing)

        async def send() -> None:
            sent = [
                await publishers[item.topic].publish(
                    item.value,
                    key=item.key.encode(),
                    headers=headers_of(item),
                    no_confirm=True,
                    correlation_id=item.correlation or item.event_id,
                )
                for item in items
            ]
            await asyncio.gather(*sent)  # every entry durable before the outbox is marked sent

        with metrics.PUBLISH_SECONDS.time():
            await renewal.guarded(send)
        for item in items:
            event_type = metrics.event_type_of(item.value)
            metrics.PUBLISHED.labels(item.topic, event_type).inc()
            if event_type == "TransitionRefused":
                metrics.REFUSED.inc()

    return publish


def headers_of(item: Outgoing) -> dict[str, str]:
    """An outbox entry's headers: its event id, and the trace it belongs to (`shared.tracing`); FastStream
    adds `correlation_id` (the body's, else the event id) and an empty `content-type`."""
    headers = {"event-id": item.event_id}
    if item.trace:
        headers["traceparent"] = item.trace
    return headers


def topic_doc(topic: str) -> str:
    """Return a one-line description of a topic for the AsyncAPI document."""
    names = ", ".join(cls.__name__ for cls in events_of(topic))
    return f"JSON events keyed by subject id: {names}."


def _safe_reason(error: BaseException) -> str:
    """Return a short printable reason without quoted values, so no personal data reaches headers or logs.

    Everything from the first quote to the last of the same kind goes: a value may itself hold quotes
    (msgspec writes `'N'Diaye'` for a tag, and `"N'Diaye"` for an enum). The whole message is masked, then
    cut: cut first, a long value would lose its closing quote and pass unmasked."""
    reason = re.sub(r"'.*'|\".*\"", "'…'", str(error), flags=re.DOTALL)
    return "".join(c if c.isprintable() else "?" for c in reason)[:300]


def where_and_why(record: Consumed, error: BaseException) -> dict[str, str]:
    """The dead-letter headers: the record's origin, the error class and a short reason."""
    return {
        "origin-topic": record.topic,
        "origin-partition": str(record.partition),
        "origin-offset": str(record.offset),
        "error-class": type(error).__name__,
        "error-reason": _safe_reason(error),
    }


def stub_of(
    record: Consumed, headers: dict[str, str], failure: BaseException
) -> tuple[bytes | None, dict[str, str]]:
    """The key and headers of a dead letter that cannot be published whole: the body's size and SHA-256
    instead of the body (and the key's digest instead of an oversized key)."""
    body, key = record.value or b"", record.key
    stub = {
        **headers,
        "stub": f"{type(failure).__name__}: the original body is not included",
        "original-size": str(len(body)),
        "original-sha256": hashlib.sha256(body).hexdigest(),
    }
    if key is not None and len(key) > MAX_STUB_KEY_BYTES:
        stub["original-key-sha256"] = hashlib.sha256(key).hexdigest()
        key = None
    return key, stub


async def dead_letter(
    broker: KafkaBroker, settings: Settings, record: Consumed, error: BaseException
) -> None:
    """Publish the original bytes to the dead-letter topic, with where they came from and why; a message
    that does not fit once the headers are added goes as a stub. Transient faults are raised, to retry."""
    headers = where_and_why(record, error)
    topic = settings.topic(Topic.DEAD_LETTER)
    renewal = renewal_of(broker)
    try:
        await renewal.guarded(
            lambda: broker.publish(record.value or b"", topic=topic, key=record.key, headers=headers)
        )
    except Exception as failure:
        if is_transient(failure):
            raise
        key, stub = stub_of(record, headers, failure)
        await renewal.guarded(lambda: broker.publish(b"", topic=topic, key=key, headers=stub))
        headers = stub
    metrics.DEAD_LETTERS.labels(settings.contract_topic(record.topic), headers["error-class"]).inc()
    stubbed = " as a stub" if "stub" in headers else ""
    reason = headers["error-reason"]
    log.warning(
        "dead-lettered %s[%d]@%d%s: %s", record.topic, record.partition, record.offset, stubbed, reason
    )


async def raw_body(message: KafkaMessage) -> bytes:
    """Leave the body as bytes: the contracts' codec is the only decoder (FastStream's JSON decoding
    would raise on hostile input, such as deep nesting, before our dead-letter handling runs)."""
    return message.body


def subscribe(
    broker: KafkaBroker,
    settings: Settings,
    group_id: str,
    topics: Sequence[str],
    handle: Handle,
    exclusive: Exclusive = lambda topic, event: False,
    coalesce: Coalesce = Coalesce.NO,
    assignment: Assignment | None = None,
) -> None:
    """Consume `topics` in batches: decode, handle, then commit the batch; poison to the dead-letter topic.

    A replica with a stable name (`instance`) is a static group member: restarted after a crash, it takes
    its partitions back at once instead of waiting for the session timeout and a rebalance.

    One consumer for all of a service's topics, and the range assignor gives one instance the same
    partition of every topic, so one writer handles each volunteer's key. Within a batch, messages of
    different keys are handled concurrently and those of one key in order; an `exclusive` message (one
    that touches other keys' aggregates) is handled alone, after what came before it. With `coalesce`,
    the messages between exclusive ones are one `UnitOfWork`: loaded in one query, applied in memory (each
    key in order), saved in one bulk write, then published.
    `assignment` follows the group's rebalances (readiness, `shared.health`).
    """

    protocol = BatchProtocol(
        settings,
        handle,
        lambda record, error: dead_letter(broker, settings, record, error),
        _exit,
        exclusive,
        coalesce,
    )

    async def on_batch(message: KafkaMessage) -> None:
        records = message.raw_message
        await protocol.process(records)
        await message.ack()  # commits the whole batch, every record applied or dead-lettered
        count_consumed(settings, records, message.consumer)

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
        listener=assignment,
    )(on_batch)


def count_consumed(settings: Settings, records: Sequence[ConsumerRecord], consumer: Any) -> None:
    """Count a committed batch, and set the lag of each partition it came from (end offset - next one)."""
    metrics.BATCH_MESSAGES.observe(len(records))
    last: dict[tuple[str, int], int] = {}
    for record in records:
        metrics.MESSAGES.labels(settings.contract_topic(record.topic)).inc()
        last[record.topic, record.partition] = record.offset
    highwater = getattr(consumer, "highwater", None)  # FastStream's in-memory test consumer has none
    for (topic, partition), offset in last.items():
        end = highwater(TopicPartition(topic, partition)) if highwater else None
        if end is not None:
            metrics.LAG.labels(settings.contract_topic(topic), str(partition)).set(max(end - offset - 1, 0))


def _exit(reason: str) -> NoReturn:
    """Stop the process without running the rest of the batch; a supervisor restarts it (last commit)."""
    log.critical("stopping: %s", reason)
    os._exit(EXIT_GAVE_UP)
