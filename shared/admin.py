"""Create every topic with explicit partitions and replication (never left to broker auto-creation)."""

from __future__ import annotations

from contextlib import suppress

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.settings import Settings

MAX_MESSAGE_BYTES = 1024 * 1024  # what a topic accepts (the contracts refuse more than 256 KiB)
MAX_DEAD_LETTER_BYTES = MAX_MESSAGE_BYTES + 64 * 1024  # room for the dead-letter headers


def topic_config(replication: int, topic: Topic | None = None) -> dict[str, str]:
    """Durability settings (a write needs a majority of replicas in sync; no unclean leader election) and
    an explicit size limit, larger on the dead-letter topic so any accepted message fits with its headers."""
    largest = MAX_DEAD_LETTER_BYTES if topic is Topic.DEAD_LETTER else MAX_MESSAGE_BYTES
    return {
        "min.insync.replicas": str(max(1, replication - 1)),
        "unclean.leader.election.enable": "false",
        "max.message.bytes": str(largest),
    }


class TopicsNotCreatedError(RuntimeError):
    """The broker refused to create some topics (a replication it cannot give, a permission denied)."""


async def ensure_topics(settings: Settings) -> list[str]:
    """Create the topics that do not exist yet; return the names created. A topic the broker refuses is an
    error naming each topic and why, never a silent success."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id="envol-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                settings.topic(topic),
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=topic_config(settings.topic_replication, topic),
            )
            for topic in Topic
            if settings.topic(topic) not in existing
        ]
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
        return [t.name for t in missing]
    finally:
        await admin.close()
