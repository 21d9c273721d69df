"""Any input on an intake topic ends applied xor dead-lettered: the real handlers behind the real `subscribe`.

Each example is one batch on a partition of its own (so its offsets start at 0), mixing hostile messages
(`tests.hostile_inputs`) with valid ones; the services' handlers run on their in-memory stores, wired with the
`exclusive` and `coalesce` choices of their `main.wire`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any
from unittest import mock

import msgspec
import pytest
from faststream.kafka import KafkaResponse, TestKafkaBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.application import main as application_main
from services.application.handlers import ApplicationHandlers
from services.application.store import InMemoryApplicationStore
from services.departure import main as departure_main
from services.departure.handlers import DepartureHandlers
from services.departure.store import InMemoryDepartureStore
from services.placement import main as placement_main
from services.placement.handlers import PlacementHandlers
from services.placement.pseudonym import volunteer_ref
from services.placement.store import InMemoryPlacementStore
from services.vetting import main as vetting_main
from services.vetting.handlers import VettingHandlers
from services.vetting.store import InMemoryVettingStore
from shared import messaging
from shared.consuming import Handle
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC
from shared.contracts.topics import INTAKES, Topic
from shared.memory import InMemoryAggregates
from shared.messaging import make_broker, subscribe
from shared.processing import Publish, current_position
from shared.settings import Settings
from tests.hostile_inputs import Hostile, draw_hostile, draw_valid
from tests.unit.test_application_handlers import Sent

SETTINGS = Settings(retry_attempts=3, retry_base_seconds=0.001)
PARTITIONS = itertools.count(1)
EXAMPLES = int(os.environ.get("ENVOL_FUZZ_EXAMPLES", "150"))  # batches per intake topic; more to dig deeper
Make = Callable[[Publish], tuple[Handle, list[InMemoryAggregates[Any]]]]


def _application(publish: Publish) -> tuple[Handle, list[InMemoryAggregates[Any]]]:
    store = InMemoryApplicationStore()
    return ApplicationHandlers(store, publish).handle, [store.applications, store.erasures]


def _vetting(publish: Publish) -> tuple[Handle, list[InMemoryAggregates[Any]]]:
    store = InMemoryVettingStore()
    return VettingHandlers(store, publish).handle, [store.cases]


def _placement(publish: Publish) -> tuple[Handle, list[InMemoryAggregates[Any]]]:
    store = InMemoryPlacementStore()
    handlers = PlacementHandlers(store, publish, partial(volunteer_ref, "test-pseudonym-key"))
    return handlers.handle, [store.candidates, store.openings]


def _departure(publish: Publish) -> tuple[Handle, list[InMemoryAggregates[Any]]]:
    store = InMemoryDepartureStore()
    return DepartureHandlers(store, publish).handle, [store.departures, store.placements]


WIRING: dict[str, tuple[Any, Make]] = {
    "application": (application_main.wire, _application),
    "vetting": (vetting_main.wire, _vetting),
    "placement": (placement_main.wire, _placement),
    "departure": (departure_main.wire, _departure),
}
SERVICES = {topic: WIRING[intake.service] for topic, intake in INTAKE_OF_TOPIC.items()}


@st.composite
def batches(draw: st.DrawFn, topic: Topic) -> list[Hostile]:
    """Up to 12 messages: valid ones on four volunteers (so keys repeat, in order), hostile ones alone."""
    batch = []
    for i in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            event, personal = draw_valid(draw, topic, draw(st.integers(0, 3)))
            event = msgspec.structs.replace(event, event_id=f"fz-ev-valid-{i}")
            batch.append(Hostile(topic, event.subject_id.encode(), encode(event), "valid", personal))
        else:
            batch.append(draw_hostile(draw, topic, 100 + i))
    return batch


class Service:
    """One service's real `subscribe` on a TestKafkaBroker, started once; each batch gets fresh stores."""

    def __init__(self, topic: Topic) -> None:
        wire, self.make = SERVICES[topic]
        self.broker = make_broker(SETTINGS, "fuzz")
        wiring = wire(mock.MagicMock(), Sent(), SETTINGS)  # the service's own exclusive and coalesce choices
        subscribe(self.broker, SETTINGS, "fuzz", [topic], self.handle, wiring.exclusive, wiring.coalesce)
        self.broker.subscriber(Topic.DEAD_LETTER.value, decoder=messaging.raw_body)(self.collect)
        self.topic = topic
        self.current: Handle = Sent()  # type: ignore[assignment]
        self.dead: list[dict[str, str]] = []
        self.handled: dict[int, str] = {}

    async def handle(self, topic: str, event: Event) -> None:
        await self.current(topic, event)
        position = current_position.get()
        assert position is not None
        self.handled[position.offset] = event.identity  # what the store records, once applied

    async def collect(self, message: messaging.KafkaMessage) -> None:
        self.dead.append(dict(message.headers))

    async def consume(self, test: TestKafkaBroker, batch: list[Hostile], partition: int) -> Run:
        """Run one batch through the service, on fresh in-memory stores."""
        self.current, aggregates = self.make(Sent())
        self.dead, self.handled = [], {}
        stops: list[int] = []
        with mock.patch.object(messaging.os, "_exit", stops.append):
            messages = [m.value if m.key is None else KafkaResponse(m.value, key=m.key) for m in batch]
            await test.publish_batch(*messages, topic=str(self.topic), partition=partition)
        stored = {i for store in aggregates for d in store.documents.values() for i in d["applied"]}
        return Run({offset for offset, i in self.handled.items() if i in stored}, self.dead, stops)


class Run(msgspec.Struct):
    """What one batch left: the offsets handled and found in the stores, the dead letters, the stops."""

    applied: set[int]
    dead: list[dict[str, str]]
    stops: list[int]


@pytest.fixture(scope="module")
async def services() -> AsyncIterator[dict[Topic, tuple[Service, TestKafkaBroker]]]:
    """Each intake topic's service, on a broker started once for every example."""
    async with contextlib.AsyncExitStack() as stack:
        started = {}
        for topic in INTAKES:
            service = Service(topic)
            started[topic] = (service, await stack.enter_async_context(TestKafkaBroker(service.broker)))
        yield started


def words(values: tuple[str, ...]) -> set[str]:
    """Each personal value, and each of its words of four letters or more (a partly masked value leaks)."""
    return {*values, *(w for v in values for w in re.findall(r"\w{4,}", v) if not w.isdigit())}


def assert_applied_xor_dead_lettered(batch: list[Hostile], run: Run, partition: int) -> None:
    topic = str(batch[0].topic)
    letters = Counter((h["origin-topic"], h["origin-partition"], h["origin-offset"]) for h in run.dead)
    assert run.stops == [], "the process would have stopped"
    assert set(letters) <= {(topic, str(partition), str(offset)) for offset in range(len(batch))}
    for offset, message in enumerate(batch):
        applied = offset in run.applied
        dead = letters[(topic, str(partition), str(offset))]
        assert dead <= 1, f"offset {offset} ({message.kind}) dead-lettered {dead} times"
        assert applied != bool(dead), f"offset {offset} ({message.kind}): applied {applied}, dead {dead}"
        assert message.kind != "valid" or applied, f"valid offset {offset} not applied"
    for headers in run.dead:
        assert headers["error-class"] and headers["error-reason"].strip()
        offset = int(headers["origin-offset"])
        leaked = [w for w in words(batch[offset].personal) if w in headers["error-reason"]]
        assert not leaked, f"{batch[offset].kind}: personal values in the reason: {headers['error-reason']}"


@pytest.mark.parametrize("topic", INTAKES, ids=str)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
async def test_every_offset_of_a_hostile_batch_ends_applied_xor_dead_lettered_and_every_valid_one_applied(
    services: dict[Topic, tuple[Service, TestKafkaBroker]], topic: Topic, data: st.DataObject
) -> None:
    service, test = services[topic]
    batch, partition = data.draw(batches(topic)), next(PARTITIONS)
    assert_applied_xor_dead_lettered(batch, await service.consume(test, batch, partition), partition)
