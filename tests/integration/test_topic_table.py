"""The topic table on the real broker: topics are created as it says, and a topic that differs is reported."""

from __future__ import annotations

import asyncio

import msgspec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.admin import DAY_MS, align_topics, ensure_topics, topic_config, topic_configs, topic_drift
from shared.contracts.topics import TOPICS, Topic
from shared.kafka import client_options
from shared.settings import Settings


async def test_every_topic_is_created_with_the_tables_settings(quiet_settings: Settings) -> None:
    settings = msgspec.structs.replace(quiet_settings, namespace=f"{quiet_settings.namespace}-table")
    await ensure_topics(settings)
    configs = await topic_configs(settings, [settings.topic(t) for t in TOPICS])
    for topic in TOPICS:
        expected = topic_config(settings.topic_replication, topic)
        found = configs[settings.topic(topic)]
        assert {key: found[key] for key in expected} == expected, topic
    assert await topic_drift(settings) == []


async def test_a_topic_that_differs_from_the_table_is_reported_and_its_configuration_set_to_the_tables(
    quiet_settings: Settings,
) -> None:
    settings = msgspec.structs.replace(quiet_settings, namespace=f"{quiet_settings.namespace}-drift")
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:  # made by hand before the table: one partition, the broker's defaults
        await admin.create_topics([NewTopic(settings.topic(Topic.DEAD_LETTER), 1, 1)])
        await ensure_topics(settings)
        vetting = settings.topic(Topic.VETTING_EVENTS)
        configs = topic_config(settings.topic_replication, Topic.VETTING_EVENTS) | {
            "retention.ms": str(365 * DAY_MS)
        }
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, vetting, configs)])
    finally:
        await admin.close()
    for _ in range(100):  # the controller acknowledges a change before the broker serves it
        if (await topic_configs(settings, [vetting]))[vetting]["retention.ms"] == str(365 * DAY_MS):
            break
        await asyncio.sleep(0.1)
    drift = [str(d) for d in await topic_drift(settings)]
    dead = settings.topic(Topic.DEAD_LETTER)
    assert f"{dead}: partitions is 1, the table says {settings.topic_partitions}" in drift
    assert f"{dead}: retention.ms is {7 * DAY_MS}, the table says {14 * DAY_MS}" in drift  # the default
    assert f"{vetting}: retention.ms is {365 * DAY_MS}, the table says {30 * DAY_MS}" in drift
    assert not [line for line in drift if not line.startswith((dead, vetting))]  # the others hold the table

    changed, left = await align_topics(settings)
    assert changed == sorted([dead, vetting])
    assert [str(d) for d in left] == [f"{dead}: partitions is 1, the table says {settings.topic_partitions}"]
    for _ in range(100):  # served once the broker has the change
        if [str(d) for d in await topic_drift(settings)] == [str(d) for d in left]:
            break
        await asyncio.sleep(0.1)
    assert [str(d) for d in await topic_drift(settings)] == [str(d) for d in left]
