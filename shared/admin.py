"""Create every topic with explicit partitions and replication (never left to broker auto-creation)."""

from __future__ import annotations

from contextlib import suppress

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import Topic
from shared.settings import Settings


def topic_config(replication: int) -> dict[str, str]:
    """Durability settings: a write needs a majority of replicas in sync; no unclean leader election."""
    return {
        "min.insync.replicas": str(max(1, replication - 1)),
        "unclean.leader.election.enable": "false",
    }


async def ensure_topics(settings: Settings) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, client_id="envol-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                settings.topic(topic),
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=topic_config(settings.topic_replication),
            )
            for topic in Topic
            if settings.topic(topic) not in existing
        ]
        if missing:
            with suppress(TopicAlreadyExistsError):  # another service created them at the same moment
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


if __name__ == "__main__":
    import asyncio

    created = asyncio.run(ensure_topics(Settings.from_env()))
    print(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else " (all existed)"))
