"""Test-side Kafka tools, written directly on aiokafka as an outside system would (connected as Envol is)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared.kafka import client_options
from shared.settings import Settings


async def produce(settings: Settings, messages: Iterable[tuple[str, bytes | None, bytes]]) -> None:
    """Send (topic, key, value) messages with a plain producer and wait for every ack."""
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, value, key=key) for topic, key, value in messages])
    finally:
        await producer.stop()


class TopicReader:
    """Reads what is written to some topics after it started (no consumer group, no commits)."""

    def __init__(self, settings: Settings, topics: Sequence[str]) -> None:
        self.consumer = AIOKafkaConsumer(
            *topics, **client_options(settings), auto_offset_reset="latest", enable_auto_commit=False
        )
        self.records: list[ConsumerRecord[Any, Any]] = []

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()  # without a group, every partition is assigned at once
        for partition in self.consumer.assignment():
            await self.consumer.position(partition)  # pin the start before anything is produced
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def until(
        self, done: Callable[[list[ConsumerRecord[Any, Any]]], bool], seconds: float = 30.0
    ) -> list[ConsumerRecord[Any, Any]]:
        """Read until `done(records so far)` holds; fail with what was read when `seconds` pass."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not done(self.records):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out after {seconds}s with {len(self.records)} records read")
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                self.records.extend(records)
        return self.records
