"""The dead-letter topic, for operators: list what was set aside and why, show one, replay after a fix."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping, Sequence

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.cli.reading import read_all
from shared.contracts.intake import retired_intakes
from shared.contracts.topics import INTAKES, TOPICS, Topic
from shared.kafka import client_options
from shared.settings import Settings

REPLAYED_FROM = "replayed-from"  # a replay's header: the dead letter it sends back (`replay_header`)
_NAMED = re.compile(rf"{re.escape(Topic.DEAD_LETTER.value)}:(?P<position>[0-9]{{1,9}}:[0-9]{{1,19}})")
_MAX_NAMED = 64  # longer: names no letter


def replay_header(position: str) -> tuple[str, bytes]:
    """The header a replay carries: the position of the dead letter it sends back."""
    return REPLAYED_FROM, f"{Topic.DEAD_LETTER.value}:{position}".encode()


def replayed_position(headers: Mapping[str, bytes | None]) -> str | None:
    """The position of the letter a record's headers say it replays (`replay_header`); None for anything
    else a sender may have written there."""
    named = _NAMED.fullmatch((headers.get(REPLAYED_FROM) or b"")[:_MAX_NAMED].decode(errors="replace"))
    return named["position"] if named else None


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

    @property
    def fingerprint(self) -> bytes:
        """What a record must carry to be this letter's replay: its origin topic, key and bytes."""
        return fingerprint(self.origin_topic, self.key, self.value)


def fingerprint(topic: str, key: bytes | None, value: bytes | None) -> bytes:
    """16 bytes of BLAKE2b of a record's topic, key and value (each part length-prefixed, so no two
    records share one by moving bytes from one part to another)."""
    hashed = hashlib.blake2b(digest_size=16)
    for part in (topic.encode(errors="replace"), key or b"", value or b""):
        hashed.update(len(part).to_bytes(8, "big") + part)
    return hashed.digest()


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


async def dead_letter_at(settings: Settings, partition: int, offset: int) -> DeadLetter | None:
    """Return the dead letter at one position (one record read, not the topic), or None if there is none
    (the partition must exist: the console asks only for positions it has seen)."""
    where = TopicPartition(settings.topic(Topic.DEAD_LETTER), partition)
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        if not 0 <= offset < (await consumer.end_offsets([where]))[where]:
            return None
        consumer.assign([where])
        consumer.seek(where, offset)
        found = (await consumer.getmany(where, timeout_ms=5000, max_records=1)).get(where, [])
        if not found or found[0].offset != offset:
            return None
        record = found[0]
        return as_dead_letter(partition, offset, record.key, record.value, record.headers)
    finally:
        await consumer.stop()


class Plan(msgspec.Struct, frozen=True):
    """What a replay does: the letters it sends back to their intake topic, and those it refuses, with why."""

    replayed: list[DeadLetter]
    refused: list[tuple[DeadLetter, str]]


def refusal(settings: Settings, origin_topic: str) -> str | None:
    """Say why a letter from `origin_topic` may not be replayed; None for one of this namespace's intakes.

    Replay writes wherever the letter's `origin-topic` header says, and any client can write a dead letter:
    only the topics outside systems write to are safe, never an internal events topic or another stack's.
    """
    if origin_topic in {settings.topic(topic) for topic in retired_intakes()}:
        return "a shared host topic, retired: its host states the fact again on its own topic"
    if origin_topic in {settings.topic(topic) for topic in INTAKES}:
        return None
    ours = {settings.topic(topic): topic for topic in TOPICS}
    if origin_topic in ours:
        return f"{ours[origin_topic]} is not an intake topic"
    if any(origin_topic == topic or origin_topic.endswith(f".{topic}") for topic in TOPICS):
        return f"from another namespace (this one is {settings.namespace or 'the default'})"
    return "not a topic of the contracts"


def plan(settings: Settings, letters: Sequence[DeadLetter]) -> Plan:
    """Split `letters` into those replay sends back to their origin and those it refuses."""
    verdicts = [(letter, refusal(settings, letter.origin_topic)) for letter in letters]
    return Plan(
        replayed=[letter for letter, why in verdicts if why is None],
        refused=[(letter, why) for letter, why in verdicts if why is not None],
    )


async def replay(settings: Settings, letters: Sequence[DeadLetter]) -> Plan:
    """Publish each allowed letter's original bytes back to its intake topic, with its key; return the plan.

    The rule is applied here, not only by the command line: no caller can replay to another topic.
    """
    done = plan(settings, letters)
    if not done.replayed:
        return done
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send(
                letter.origin_topic,
                letter.value,
                key=letter.key,
                headers=[replay_header(letter.position)],
            )
            for letter in done.replayed
        ]
        await asyncio.gather(*sent)
        return done
    finally:
        await producer.stop()
