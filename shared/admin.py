"""The topic table: every topic created with explicit partitions, replication, durability, size limit and
retention (never left to the broker's defaults or auto-creation), and the topics that differ from it reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import NamedTuple

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared.contracts.topics import INTAKES, PARTNER_TOPICS, TOPICS, Topic
from shared.kafka import client_options
from shared.settings import Settings

MAX_MESSAGE_BYTES = 1024 * 1024  # what a topic accepts (the contracts refuse more than 256 KiB)
MAX_DEAD_LETTER_BYTES = MAX_MESSAGE_BYTES + 64 * 1024  # room for the dead-letter headers
DAY_MS = 24 * 3600 * 1000
# a segment is deleted whole, once its newest record is past retention: a record goes at most a day late
SEGMENT_MS = DAY_MS


class Retention(NamedTuple):
    """How long a class of topics keeps a record, and why that long."""

    days: int
    why: str


RETENTION = {
    "intake": Retention(7, "an outside fact waits here only until its service applies it (seconds); a week "
                        "covers a service down over a long weekend. A replayed dead letter is written anew"),
    "events": Retention(30, "the services' lifecycle events, consumed by the next service within seconds; "
                        "a month covers a long outage and lets operators trace recent cases. What is older "
                        "lives in the services' databases"),
    "partner": Retention(90, "partners may rebuild their view (a new consumer group from the earliest "
                         "offset) up to three months back"),
    "dead-letter": Retention(14, "operators repair and replay within two weeks; the bodies are whole "
                             "messages, personal data included, so they are not kept longer"),
}  # fmt: skip


def retention_class(topic: str) -> str:
    """The class of a topic in RETENTION."""
    if topic == Topic.DEAD_LETTER:
        return "dead-letter"
    if topic == Topic.PARTNER_PLACEMENT_UPDATES or topic in PARTNER_TOPICS:
        return "partner"
    return "intake" if topic in INTAKES else "events"


def topic_config(replication: int, topic: str) -> dict[str, str]:
    """Durability settings (a write needs a majority of replicas in sync; no unclean leader election), an
    explicit size limit (larger on the dead-letter topic, so any accepted message fits with its headers),
    and the retention of its class, enforced by deletion."""
    largest = MAX_DEAD_LETTER_BYTES if topic == Topic.DEAD_LETTER else MAX_MESSAGE_BYTES
    return {
        "min.insync.replicas": str(max(1, replication - 1)),
        "unclean.leader.election.enable": "false",
        "max.message.bytes": str(largest),
        "cleanup.policy": "delete",
        "retention.ms": str(RETENTION[retention_class(topic)].days * DAY_MS),
        "segment.ms": str(SEGMENT_MS),
    }


class TopicsNotCreatedError(RuntimeError):
    """The broker refused to create some topics (a replication it cannot give, a permission denied)."""


@asynccontextmanager
async def _admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    """One admin connection for the calls of one step (each connection is a TLS and SCRAM handshake)."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="envol-admin")
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def ensure_topics(settings: Settings) -> list[str]:
    """Create the topics that do not exist yet; return the names created. A topic the broker refuses is an
    error naming each topic and why, never a silent success."""
    async with _admin(settings) as admin:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                settings.topic(topic),
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=topic_config(settings.topic_replication, topic),
            )
            for topic in TOPICS
            if settings.topic(topic) not in existing
        ]
        created: list[str] = []
        if missing:
            with suppress(TopicAlreadyExistsError):  # another service created them at the same moment
                response = await admin.create_topics(missing)
                refused = [
                    f"{name}: {for_code(code).__name__}" + (f" ({detail[0]})" if detail and detail[0] else "")
                    for name, code, *detail in response.topic_errors
                    if code not in (0, TopicAlreadyExistsError.errno)
                ]
                if refused:
                    raise TopicsNotCreatedError(f"{len(refused)} topics not created: {'; '.join(refused)}")
                created = [name for name, code, *_ in response.topic_errors if code == 0]
            await _served(
                admin, settings, created
            )  # not one made meanwhile by another, with its own settings
        return created


SERVED_WITHIN_S = 15.0


async def _served(admin: AIOKafkaAdminClient, settings: Settings, names: list[str]) -> None:
    """Wait until the broker serves each topic just created with the table's configuration: the controller
    acknowledges a creation before the broker answering for it knows the topic."""
    by_name = {settings.topic(t): t for t in TOPICS}
    deadline = asyncio.get_running_loop().time() + SERVED_WITHIN_S
    while True:
        configs = await _configs(admin, names, strict=False)
        waiting = [
            n
            for n in names
            if not topic_config(settings.topic_replication, by_name[n]).items() <= configs.get(n, {}).items()
        ]
        if not waiting:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TopicsNotCreatedError(
                f"created but not served after {SERVED_WITHIN_S:.0f} s: {', '.join(waiting)}"
            )
        await asyncio.sleep(0.1)


async def topic_configs(settings: Settings, topics: list[str]) -> dict[str, dict[str, str]]:
    """The broker's configuration of each topic named (every key, defaults included)."""
    async with _admin(settings) as admin:
        return await _configs(admin, topics)


class TopicConfigsUnreadError(RuntimeError):
    """The broker answered with an error for some topics' configuration."""


async def _configs(
    admin: AIOKafkaAdminClient, topics: list[str], *, strict: bool = True
) -> dict[str, dict[str, str]]:
    """Each topic's configuration; a topic the broker answers with an error is an error (or, not strict, an
    empty configuration: a topic still being created)."""
    found = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    resources = [resource for response in found for resource in response.resources]
    failed = [f"{r[3]}: {for_code(r[0]).__name__} ({r[1]})" for r in resources if r[0]]
    if failed and strict:
        raise TopicConfigsUnreadError(f"{len(failed)} topic configurations not read: {'; '.join(failed)}")
    return {r[3]: {} if r[0] else {entry[0]: entry[1] for entry in r[4]} for r in resources}


class Drift(NamedTuple):
    """One way an existing topic differs from the table."""

    topic: str  # as the broker knows it
    key: str  # "partitions", "replication" or a configuration key
    found: str | None
    expected: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.key} is {self.found}, the table says {self.expected}"


FIXED_AT_CREATION = ("partitions", "replication")  # not changed in place: a reassignment, by an operator


async def topic_drift(settings: Settings) -> list[Drift]:
    """Each way an existing topic differs from the table (partitions, replication, a configuration key);
    empty when the broker holds the table."""
    async with _admin(settings) as admin:
        return await _drift(admin, settings)


async def _drift(admin: AIOKafkaAdminClient, settings: Settings) -> list[Drift]:
    described = {t["topic"]: t for t in await admin.describe_topics([settings.topic(t) for t in TOPICS])}
    present = [t for t in TOPICS if not described.get(settings.topic(t), {}).get("error_code")]
    configs = await _configs(admin, [settings.topic(t) for t in present])
    drift = []
    for topic in present:
        name = settings.topic(topic)
        partitions = described[name]["partitions"]
        replicas = {len(p["replicas"]) for p in partitions}
        found = {"partitions": str(len(partitions)), "replication": ",".join(map(str, sorted(replicas)))}
        found |= configs.get(name, {})
        expected = {
            "partitions": str(settings.topic_partitions),
            "replication": str(settings.topic_replication),
        }
        expected |= topic_config(settings.topic_replication, topic)
        drift += [
            Drift(name, key, found.get(key), value)
            for key, value in expected.items()
            if found.get(key) != value
        ]
    return drift


class TopicsNotAlignedError(RuntimeError):
    """The broker refused to change a topic's configuration to the table's."""


async def align_topics(settings: Settings) -> tuple[list[str], list[Drift]]:
    """Set every existing topic's configuration to the table's (its dynamic configuration becomes the
    table's and nothing else, as the grants do); return the topics changed and what stays different
    (partitions and replication, which an operator changes by reassignment)."""
    by_name = {settings.topic(t): t for t in TOPICS}
    async with _admin(settings) as admin:
        drift = await _drift(admin, settings)
        changed = sorted({d.topic for d in drift if d.key not in FIXED_AT_CREATION})
        resources = [
            ConfigResource(
                ConfigResourceType.TOPIC, name, topic_config(settings.topic_replication, by_name[name])
            )
            for name in changed
        ]
        responses = await admin.alter_configs(resources) if resources else []
    refused = [
        f"{resource[3]}: {for_code(resource[0]).__name__} ({resource[1]})"
        for response in responses
        for resource in response.resources
        if resource[0]
    ]
    if refused:
        raise TopicsNotAlignedError(f"{len(refused)} topics not aligned: {'; '.join(refused)}")
    return changed, [d for d in drift if d.key in FIXED_AT_CREATION]
