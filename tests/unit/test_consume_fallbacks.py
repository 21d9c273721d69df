"""The consume path's last resorts: a dead letter too large goes as a stub; what cannot be set aside stops."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from faststream.kafka import KafkaResponse, TestKafkaBroker
from faststream.kafka.message import KafkaAckableMessage

from shared import messaging, samples
from shared.admin import MAX_DEAD_LETTER_BYTES
from shared.contracts.codec import encode
from shared.contracts.topics import Topic
from tests.unit.test_consume_loop import Recorder, wired


class StoppedError(BaseException):
    """What `os._exit` does here: nothing after it runs (it is not an Exception, so nothing catches it)."""


def refusing(broker: Any, fits: int | None) -> None:
    """Make the broker refuse dead letters larger than `fits` bytes (every one when None), as Kafka would."""
    publish = broker.publish

    async def limited(body: bytes, *args: Any, topic: str, **kwargs: Any) -> Any:
        if topic == Topic.DEAD_LETTER.value and (fits is None or len(body) > fits):
            raise MessageSizeTooLargeError()
        return await publish(body, *args, topic=topic, **kwargs)

    broker.publish = limited


async def test_a_dead_letter_too_large_to_publish_whole_goes_as_a_stub_with_its_size_and_sha256() -> None:
    handle = Recorder()
    broker, dead = wired(handle)
    refusing(broker, fits=MAX_DEAD_LETTER_BYTES - 1024)
    huge, key = b"x" * MAX_DEAD_LETTER_BYTES, b"k" * 2048
    after = encode(samples.submitted("app-2"))
    async with TestKafkaBroker(broker) as test:
        await test.publish_batch(
            KafkaResponse(huge, key=key),
            KafkaResponse(after, key=b"vol-1"),
            topic=Topic.APPLICATION_INTAKE.value,
        )
    assert handle.applied == ["app-2"]
    [(body, headers)] = dead
    assert body == b""
    assert headers["origin-topic"] == Topic.APPLICATION_INTAKE.value and headers["origin-offset"] == "0"
    assert headers["error-class"] == "ContractError" and headers["error-reason"]
    assert headers["stub"].startswith("MessageSizeTooLargeError")
    assert headers["original-size"] == str(len(huge))
    assert headers["original-sha256"] == hashlib.sha256(huge).hexdigest()
    assert headers["original-key-sha256"] == hashlib.sha256(key).hexdigest()


async def test_a_dead_letter_that_cannot_be_published_even_as_a_stub_stops_the_process_before_the_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[int] = []

    def exit_(code: int) -> None:
        exits.append(code)
        raise StoppedError

    acks: list[object] = []

    async def ack(message: object) -> None:
        acks.append(message)

    monkeypatch.setattr(messaging.os, "_exit", exit_)
    monkeypatch.setattr(KafkaAckableMessage, "ack", ack)
    handle = Recorder()
    broker, dead = wired(handle)
    refusing(broker, fits=None)
    after = encode(samples.submitted("app-2"))
    async with TestKafkaBroker(broker) as test:
        with pytest.raises(StoppedError):
            await test.publish_batch(b"not json", after, topic=Topic.APPLICATION_INTAKE.value)
    assert exits == [messaging.EXIT_GAVE_UP]
    assert acks == []  # never committed: the batch is redelivered from the last commit
    assert handle.applied == [] and dead == []  # nothing after the stop ran
