"""The shared consume loop, in memory: poison is set aside with reasons, transient faults are retried."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import pytest
from faststream.kafka import KafkaResponse, TestKafkaBroker
from pymongo.errors import AutoReconnect

from shared import messaging, samples
from shared.aggregates import Outgoing, Record
from shared.consuming import Coalesce
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.memory import InMemoryAggregates
from shared.messaging import Handle, make_broker, subscribe
from shared.processing import apply_once
from shared.settings import Settings
from tests.examples import received

SETTINGS = Settings(retry_attempts=3, retry_base_seconds=0.001)


class Recorder:
    """A handler that fails as told, then records what it applied."""

    def __init__(self, failures: list[BaseException] | None = None) -> None:
        self.failures = failures or []
        self.applied: list[str] = []

    async def __call__(self, topic: str, event: Event) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.applied.append(getattr(event, "application_id", ""))


def wired(handle: Recorder) -> tuple[Any, list[tuple[bytes, dict[str, str]]]]:
    broker = make_broker(SETTINGS, "test")
    subscribe(broker, SETTINGS, "test-group", [Topic.APPLICATION_INTAKE], handle)
    dead: list[tuple[bytes, dict[str, str]]] = []

    @broker.subscriber(Topic.DEAD_LETTER.value, decoder=messaging.raw_body)
    async def collect(message: messaging.KafkaMessage) -> None:
        dead.append((message.body, dict(message.headers)))

    return broker, dead


async def test_bad_bytes_go_to_the_dead_letter_topic_with_where_and_why_and_the_next_message_is_applied() -> (
    None
):
    handle = Recorder()
    broker, dead = wired(handle)
    async with TestKafkaBroker(broker) as test:
        await test.publish(b"not json", Topic.APPLICATION_INTAKE.value, key=b"vol-1")
        await test.publish(encode(samples.submitted("app-2")), Topic.APPLICATION_INTAKE.value, key=b"vol-1")
    assert handle.applied == ["app-2"]
    [(body, headers)] = dead
    assert body == b"not json"
    assert headers["origin-topic"] == Topic.APPLICATION_INTAKE.value
    assert {"origin-partition", "origin-offset"} <= set(headers)
    assert headers["error-class"] == "ContractError"
    assert headers["error-reason"].startswith("DecodeError")


async def test_a_handler_failure_is_dead_lettered_without_the_values_in_its_reason() -> None:
    handle = Recorder([KeyError("camille.durand@example.org")])
    broker, dead = wired(handle)
    async with TestKafkaBroker(broker) as test:
        await test.publish(encode(samples.submitted("app-1")), Topic.APPLICATION_INTAKE.value, key=b"vol-1")
        await test.publish(encode(samples.submitted("app-2")), Topic.APPLICATION_INTAKE.value, key=b"vol-1")
    assert handle.applied == ["app-2"]
    [(_, headers)] = dead
    assert headers["error-class"] == "KeyError"
    assert "camille" not in headers["error-reason"]


CODED = [("event_type", "N'Diaye"), ("scheme", "N'Diaye"), ("event_type", "N'Diaye " + "x" * 400)]


@pytest.mark.parametrize(("field", "value"), CODED)
async def test_a_name_with_an_apostrophe_in_a_coded_field_is_masked_in_the_dead_letter_reason(
    field: str, value: str
) -> None:
    body = msgspec.json.decode(encode(samples.submitted("app-1")))
    (body["wishes"] if field == "scheme" else body)[field] = value  # a shifted column (found by Hypothesis)
    handle = Recorder()
    broker, dead = wired(handle)
    async with TestKafkaBroker(broker) as test:
        await test.publish(msgspec.json.encode(body), Topic.APPLICATION_INTAKE.value, key=b"vol-1")
    [(_, headers)] = dead
    assert "Diaye" not in headers["error-reason"]
    assert f"`$.{'wishes.' if field == 'scheme' else ''}{field}`" in headers["error-reason"]


async def test_a_transient_fault_is_retried_in_place_and_applied_once() -> None:
    handle = Recorder([AutoReconnect("db down"), AutoReconnect("db down")])
    broker, dead = wired(handle)
    async with TestKafkaBroker(broker) as test:
        await test.publish(encode(samples.submitted("app-1")), Topic.APPLICATION_INTAKE.value, key=b"vol-1")
    assert handle.applied == ["app-1"]
    assert dead == []


async def test_a_fault_that_outlasts_every_retry_stops_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(messaging.os, "_exit", exits.append)
    handle = Recorder([AutoReconnect("db down")] * 3)
    broker, dead = wired(handle)
    async with TestKafkaBroker(broker) as test:
        await test.publish(encode(samples.submitted("app-1")), Topic.APPLICATION_INTAKE.value, key=b"vol-1")
    assert exits == [messaging.EXIT_GAVE_UP]
    assert handle.applied == []
    assert dead == []


async def test_deeply_nested_json_is_dead_lettered_not_left_unacknowledged() -> None:
    handle = Recorder()
    broker, dead = wired(handle)
    deep = b'{"event_type":"ApplicationSubmitted","volunteer":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    async with TestKafkaBroker(broker) as test:
        await test.publish(deep, Topic.APPLICATION_INTAKE.value, key=b"vol-1")
        await test.publish(encode(samples.submitted("app-2")), Topic.APPLICATION_INTAKE.value, key=b"vol-1")
    assert handle.applied == ["app-2"]
    assert [headers["error-class"] for _, headers in dead] == ["ContractError"]


def test_a_batch_is_grouped_by_key_in_order_and_split_around_exclusive_messages() -> None:
    from shared.consuming import Decoded, by_key, segments

    class Record:
        def __init__(self, key: bytes) -> None:
            self.key = key

    a1, b1, a2 = samples.submitted("a1"), samples.submitted("b1"), samples.submitted("a2")
    opening = samples.published(samples.opening())
    items = [
        Decoded(Record(b"a"), "t", a1),
        Decoded(Record(b"b"), "t", b1),
        Decoded(Record(b"o"), "t", opening),
        Decoded(Record(b"a"), "t", a2),
    ]
    split = segments(items, lambda topic, event: event.event_type == "OpeningPublished")
    assert [[item.event for item in segment] for segment in split] == [[a1, b1], [opening], [a2]]
    groups = by_key(split[0])
    assert [[item.event for item in group] for group in groups] == [[a1], [b1]]
    assert [item.event for item in by_key(items)[0]] == [a1, a2]


class Counter(InMemoryAggregates[int]):
    """Aggregates counting the events applied to them; a save fails as `refuse` says."""

    def __init__(self, refuse: Callable[[Record[int]], BaseException | None] = lambda record: None) -> None:
        super().__init__(int)
        self.refuse = refuse
        self.saves: list[tuple[str, ...]] = []

    async def save(self, record: Record[int]) -> Record[int]:
        self.saves.append(record.applied)
        if (error := self.refuse(record)) is not None:
            raise error
        return await super().save(record)

    async def handle(self, topic: str, event: Event) -> None:
        await apply_once(self, "vol-1", event, lambda state: ((state or 0) + 1, []), _nothing)


def coalescing(handle: Handle, topic: Topic = Topic.APPLICATION_INTAKE) -> tuple[Any, list[dict[str, str]]]:
    broker = make_broker(SETTINGS, "test")
    subscribe(broker, SETTINGS, "test-group", [topic], handle, coalesce=Coalesce.BATCH)
    dead: list[dict[str, str]] = []

    @broker.subscriber(Topic.DEAD_LETTER.value, decoder=messaging.raw_body)
    async def collect(message: messaging.KafkaMessage) -> None:
        dead.append(dict(message.headers))

    return broker, dead


async def _nothing(outgoing: Iterable[Outgoing]) -> None:
    return None


async def test_coalesced_a_keys_batch_is_saved_once_retried_whole_and_its_poison_dead_lettered_once() -> None:
    store = Counter()
    failures = [AutoReconnect("db down")]  # the first attempt of the unit fails after its first message

    async def handle(topic: str, event: Event) -> None:
        await store.handle(topic, event)
        if failures:
            raise failures.pop(0)

    broker, dead = coalescing(handle)
    first, second = samples.submitted("app-1"), samples.submitted("app-2")
    async with TestKafkaBroker(broker) as test:
        await test.publish_batch(
            *(KafkaResponse(body, key=b"vol-1") for body in (encode(first), b"not json", encode(second))),
            topic=Topic.APPLICATION_INTAKE.value,
        )
    assert store.saves == [(first.identity, second.identity)]  # one save for the whole unit, after its retry
    assert (await store.load("vol-1")).state == 2
    assert [headers["error-class"] for headers in dead] == ["ContractError"]  # once, not once per attempt


async def test_coalesced_a_unit_that_cannot_be_saved_is_applied_one_at_a_time_and_the_culprit_set_aside() -> (
    None
):
    good, bad = samples.submitted("app-1"), samples.submitted("app-2")
    store = Counter(lambda record: ValueError("too large") if bad.identity in record.applied else None)
    broker, dead = coalescing(store.handle)
    async with TestKafkaBroker(broker) as test:
        await test.publish_batch(
            *(KafkaResponse(encode(e), key=b"vol-1") for e in (good, bad)),
            topic=Topic.APPLICATION_INTAKE.value,
        )
    assert (await store.load("vol-1")).applied == (good.identity,)
    assert [headers["error-class"] for headers in dead] == ["ValueError"]  # permanent: set aside alone


async def test_an_aggregate_written_under_two_keys_of_a_partition_loses_no_message_to_the_offset_marks() -> (
    None
):
    store = Counter()  # every event applies to aggregate vol-1, whatever its Kafka key
    # (an intake fact must come under its subject's key: a service's own events are trusted to)
    broker, dead = coalescing(store.handle, Topic.APPLICATION_EVENTS)
    events = [received(samples.submitted(f"app-{n}")) for n in range(3)]
    keys = [b"a", b"b", b"a"]  # key a's group applies offsets 0 and 2 before key b's offset 1 runs
    async with TestKafkaBroker(broker) as test:
        await test.publish_batch(
            *(KafkaResponse(encode(e), key=k) for e, k in zip(events, keys, strict=True)),
            topic=Topic.APPLICATION_EVENTS.value,
        )
    record = await store.load("vol-1")
    assert dead == []
    assert set(record.applied) == {
        e.identity for e in events
    }  # offset 1 too: marks are per partition and key (a partition-wide mark skipped it)
