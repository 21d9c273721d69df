"""Dead letters on the real broker: a letter that does not fit is published as a stub, never lost."""

from __future__ import annotations

import hashlib
import uuid

import msgspec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared import samples
from shared.admin import MAX_DEAD_LETTER_BYTES, MAX_MESSAGE_BYTES, ensure_topics, topic_configs
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.messaging import make_broker, subscribe
from shared.settings import Settings
from tests.kafka import TopicReader, produce


async def _create_small_dead_letter_topic(settings: Settings, limit: int) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        name = settings.topic(Topic.DEAD_LETTER)
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"max.message.bytes": str(limit)})])
    finally:
        await admin.close()


async def test_a_dead_letter_too_large_for_its_topic_goes_as_a_stub_and_the_next_message_is_applied(
    quiet_settings: Settings,
) -> None:
    settings = msgspec.structs.replace(quiet_settings, namespace=f"{quiet_settings.namespace}-stub")
    await _create_small_dead_letter_topic(settings, limit=4096)
    await ensure_topics(settings)
    applied: list[str] = []

    async def handle(topic: str, event: Event) -> None:
        applied.append(event.event_id)

    broker = make_broker(settings, "stub-test")
    subscribe(broker, settings, f"stub-{uuid.uuid4().hex[:6]}", [Topic.APPLICATION_INTAKE], handle)
    big, valid = b"\xe9" * 100_000, samples.submitted("app-stub")
    intake, dead = settings.topic(Topic.APPLICATION_INTAKE), settings.topic(Topic.DEAD_LETTER)
    async with TopicReader(settings, [dead]) as reader, broker:
        await broker.start()
        await produce(
            settings,
            [(intake, b"vol-1", big), (intake, b"vol-1", encode(valid)), (intake, b"vol-1", b"{")],
        )
        letters = await reader.until(lambda got: len(got) >= 2)
    stub, whole = ({k: v.decode() for k, v in r.headers} for r in letters)
    assert letters[0].value == b"" and stub["original-size"] == "100000"
    assert stub["original-sha256"] == hashlib.sha256(big).hexdigest()
    assert stub["origin-topic"] == intake and stub["error-class"] == "ContractError" and "stub" in stub
    assert letters[1].value == b"{" and "stub" not in whole
    assert applied == [valid.event_id]


async def test_every_topic_states_its_largest_message(quiet_settings: Settings) -> None:
    await ensure_topics(quiet_settings)
    names = [quiet_settings.topic(t) for t in Topic]
    configs = await topic_configs(quiet_settings, names)
    limits = {name: config["max.message.bytes"] for name, config in configs.items()}
    dead = quiet_settings.topic(Topic.DEAD_LETTER)
    assert limits[dead] == str(MAX_DEAD_LETTER_BYTES)
    assert {n: v for n, v in limits.items() if n != dead} == {
        n: str(MAX_MESSAGE_BYTES) for n in names if n != dead
    }
