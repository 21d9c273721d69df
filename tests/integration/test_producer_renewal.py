"""A producer the broker refuses is replaced and the send goes through, on the real broker (shared.renewal).

The refusal is the broker's own: the producer's next sequence number for the partition is moved past the
one the broker expects, as a broker restart that lost the producer's last batches leaves it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import msgspec
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import OutOfOrderSequenceNumber

from shared.admin import ensure_topics
from shared.aggregates import Outgoing
from shared.contracts.codec import decode
from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.messaging import make_broker, publisher, renewal_of
from shared.renewal import RenewingProducer
from shared.settings import Settings
from tests.examples import EXAMPLES
from tests.kafka import TopicReader

TOPIC = Topic.APPLICATION_EVENTS
P = TypeVar("P", AIOKafkaProducer, RenewingProducer)


def desynchronise(producer: AIOKafkaProducer, topic: str, partition: int) -> None:
    """Skip sequence numbers, so the broker receives a sequence beyond the one it expects."""
    producer._txn_manager.increment_sequence_number(TopicPartition(topic, partition), 5)


def in_namespace(settings: Settings, name: str) -> Settings:
    return msgspec.structs.replace(settings, namespace=f"{settings.namespace}-{name}")


@contextlib.asynccontextmanager
async def started(
    quiet_settings: Settings, name: str, producer_class: type[P]
) -> AsyncIterator[tuple[P, str]]:
    """An idempotent producer of `producer_class`, started in a namespace of its own, and its topic."""
    settings = in_namespace(quiet_settings, name)
    await ensure_topics(settings)
    producer = producer_class(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        yield producer, settings.topic(TOPIC)
    finally:
        await producer.stop()


async def test_a_plain_aiokafka_producer_stays_refused_after_one_refusal(quiet_settings: Settings) -> None:
    """Why shared.renewal exists: if aiokafka learns to recover by itself, this fails and it can go."""
    async with started(quiet_settings, "plain", AIOKafkaProducer) as (producer, topic):
        first = await producer.send_and_wait(topic, b"{}", key=b"k")
        desynchronise(producer, topic, first.partition)
        for _ in range(3):
            with pytest.raises(OutOfOrderSequenceNumber):
                await producer.send_and_wait(topic, b"{}", key=b"k")


async def test_the_services_broker_replaces_its_refused_producer_once_and_publishes_again(
    quiet_settings: Settings,
) -> None:
    settings = in_namespace(quiet_settings, "broker")
    await ensure_topics(settings)
    event = next(e for t, e in EXAMPLES if t == TOPIC)
    first, second = (msgspec.structs.replace(event, event_id=f"evt-{n}") for n in (1, 2))
    broker = make_broker(settings, "renewal-test")
    publish = publisher(broker, settings, [TOPIC])
    renewal = renewal_of(broker)
    async with TopicReader(settings, [settings.topic(TOPIC)]) as reader, broker:
        await broker.start()
        await publish([Outgoing.of(TOPIC, first)])
        [written] = await reader.until(lambda got: len(got) >= 1)
        refused = broker.config.producer._producer.producer
        desynchronise(refused, settings.topic(TOPIC), written.partition)
        with pytest.raises(OutOfOrderSequenceNumber):  # the broker's refusal, raised for the retry
            await publish([Outgoing.of(TOPIC, second)])
        assert renewal.generation == 1
        fresh = broker.config.producer._producer.producer
        assert fresh is not refused and refused._closed
        await publish([Outgoing.of(TOPIC, second)])  # the retry, on the new producer
        records = await reader.until(lambda got: len(got) >= 2)
    assert [decode(TOPIC, r.value).event_id for r in records] == ["evt-1", "evt-2"]
    assert renewal.generation == 1


async def test_concurrent_sends_refused_together_replace_the_producer_once(quiet_settings: Settings) -> None:
    async with started(quiet_settings, "renewing", RenewingProducer) as (producer, topic):
        first = await producer.send_and_wait(topic, b"{}", key=b"k")
        desynchronise(producer.producer, topic, first.partition)
        pending = [await producer.send(topic, b"{}", key=b"k") for _ in range(5)]
        for acknowledged in pending:
            with pytest.raises(OutOfOrderSequenceNumber):
                await acknowledged
        assert producer.renewal.generation == 1
        again = await producer.send_and_wait(topic, b"{}", key=b"k")
        assert again.partition == first.partition
