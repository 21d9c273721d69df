"""Every contract crosses the real broker intact; bad bytes are refused with the typed error."""

from __future__ import annotations

import pytest

from shared.admin import ensure_topics
from shared.contracts.codec import ContractError, decode, encode
from shared.contracts.topics import Topic
from shared.settings import Settings
from tests.examples import EXAMPLES
from tests.kafka import TopicReader, produce


async def test_every_contract_round_trips_through_the_real_broker(quiet_settings: Settings) -> None:
    await ensure_topics(quiet_settings)
    topics = sorted({quiet_settings.topic(topic) for topic, _ in EXAMPLES})
    async with TopicReader(quiet_settings, topics) as reader:
        await produce(
            quiet_settings,
            [
                (quiet_settings.topic(topic), event.subject_id.encode(), encode(event))
                for topic, event in EXAMPLES
            ],
        )
        records = await reader.until(lambda got: len(got) >= len(EXAMPLES))
    received = [(quiet_settings.contract_topic(r.topic), r.key, r.value) for r in records]
    assert {(topic, decode(topic, value)) for topic, _, value in received} == set(EXAMPLES)
    assert all(key == decode(topic, value).subject_id.encode() for topic, key, value in received)


async def test_an_invalid_payload_read_from_the_broker_raises_the_contract_error(
    quiet_settings: Settings,
) -> None:
    await ensure_topics(quiet_settings)
    bad = [b"not json", b'{"event_type": "Unheard"}', b'{"event_type": "WithdrawalRequested"}']
    topic = quiet_settings.topic(Topic.APPLICATION_INTAKE)
    async with TopicReader(quiet_settings, [topic]) as reader:
        await produce(quiet_settings, [(topic, b"k", value) for value in bad])
        records = await reader.until(lambda got: len(got) >= len(bad))
    for record in records:
        with pytest.raises(ContractError):
            decode(Topic.APPLICATION_INTAKE, record.value)


async def test_topics_are_created_with_the_configured_partitions(quiet_settings: Settings) -> None:
    await ensure_topics(quiet_settings)
    async with TopicReader(quiet_settings, [quiet_settings.topic(Topic.DEAD_LETTER)]) as reader:
        partitions = {tp.partition for tp in reader.consumer.assignment()}
    assert partitions == set(range(quiet_settings.topic_partitions))
