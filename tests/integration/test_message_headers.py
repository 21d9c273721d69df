"""What a published event's Kafka headers say is true, on the real broker: its id, and its body's
correlation id (else its own id), as docs/contracts.md describes them."""

from __future__ import annotations

import msgspec

from shared.admin import ensure_topics
from shared.aggregates import Outgoing
from shared.contracts.codec import decode
from shared.contracts.topics import Topic
from shared.messaging import make_broker, publisher
from shared.settings import Settings
from tests.examples import EXAMPLES
from tests.kafka import TopicReader


async def test_the_headers_carry_the_event_id_and_the_bodys_correlation_id(quiet_settings: Settings) -> None:
    settings = msgspec.structs.replace(quiet_settings, namespace=f"{quiet_settings.namespace}-headers")
    await ensure_topics(settings)
    topic = Topic.APPLICATION_EVENTS
    event = next(e for t, e in EXAMPLES if t == topic)
    correlated = msgspec.structs.replace(event, correlation_id="corr-1", event_id="evt-a")
    alone = msgspec.structs.replace(event, correlation_id=None, event_id="evt-b")
    broker = make_broker(settings, "headers-test")
    publish = publisher(broker, settings, [topic])
    async with TopicReader(settings, [settings.topic(topic)]) as reader, broker:
        await broker.start()
        await publish([Outgoing.of(topic, correlated), Outgoing.of(topic, alone)])
        records = await reader.until(lambda got: len(got) >= 2)
    found = sorted(
        (
            (dict((k, v.decode()) for k, v in r.headers), decode(topic, r.value).correlation_id)
            for r in records
        ),
        key=lambda pair: pair[0]["event-id"],
    )
    assert [(h["event-id"], h["correlation_id"], body) for h, body in found] == [
        ("evt-a", "corr-1", "corr-1"),
        ("evt-b", "evt-b", None),
    ]
