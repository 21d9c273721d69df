"""The dead-letter topic, for operators: list what was set aside and why, show one, replay after a fix."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
from aiokafka import AIOKafkaProducer

from services.cli.reading import read_all
from shared.contracts.topics import Topic
from shared.settings import Settings


class DeadLetter(msgspec.Struct, frozen=True):
    """One message set aside: where it came from, why, and its original bytes."""

    position: str  # "<partition>:<offset>" in the dead-letter topic
    origin_topic: str
    origin_position: str
    error_class: str
    reason: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]


def as_dead_letter(
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
) -> DeadLetter:
    """Read a dead-letter record's headers, whatever bytes they hold (a header's value may even be null)."""
    found = {name: (raw or b"").decode(errors="replace") for name, raw in headers}
    return DeadLetter(
        position=f"{partition}:{offset}",
        origin_topic=found.get("origin-topic", "?"),
        origin_position=f"{found.get('origin-partition', '?')}:{found.get('origin-offset', '?')}",
        error_class=found.get("error-class", "?"),
        reason=found.get("error-reason", ""),
        key=key,
        value=value or b"",
        headers=found,
    )


async def dead_letters(settings: Settings) -> list[DeadLetter]:
    """Return every message in the dead-letter topic, oldest first."""
    seen = await read_all(settings, (Topic.DEAD_LETTER,))
    return [
        as_dead_letter(s.partition, s.offset, s.record.key, s.record.value, s.record.headers) for s in seen
    ]


async def replay(settings: Settings, letters: Sequence[DeadLetter]) -> int:
    """Publish each letter's original bytes back to its origin topic, with its key; return how many."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = [
            await producer.send(
                letter.origin_topic,
                letter.value,
                key=letter.key,
                headers=[("replayed-from", f"{Topic.DEAD_LETTER.value}:{letter.position}".encode())],
            )
            for letter in letters
            if letter.origin_topic != "?"
        ]
        await asyncio.gather(*sent)
        return len(sent)
    finally:
        await producer.stop()
