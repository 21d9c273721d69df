"""An aggregate written from two partitions, through the real consume protocol: what a redelivery and a
republished copy publish again (the ordering anomaly under kill -9, and the copies sent back and forth)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from shared import samples
from shared.aggregates import Outgoing
from shared.consuming import BatchProtocol, Coalesce
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.contracts.vetting import Check
from shared.memory import InMemoryAggregates
from shared.processing import apply_once
from shared.settings import Settings
from tests.simulation.legacy import before_the_fix
from tests.simulation.schedule import simulate

SETTINGS = Settings(retry_attempts=3, retry_base_seconds=0.0)


class Killed(BaseException):
    """kill -9 at a publish: nothing more of the process happens."""


class Sent(msgspec.Struct, frozen=True):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Service:
    """A handler writing every event to one aggregate (`app-1`), one outgoing event per event applied."""

    def __init__(self) -> None:
        self.store: InMemoryAggregates[int] = InMemoryAggregates(int)
        self.log: list[str] = []  # the outgoing event ids, as the broker got them
        self.kill_at: int | None = None  # the publish that never happens

    async def publish(self, outgoing: Iterable[Outgoing]) -> None:
        for item in outgoing:
            if self.kill_at == len(self.log):
                self.kill_at = None
                raise Killed
            self.log.append(item.event_id)

    async def handle(self, topic: str, event: Event) -> None:
        def decide(state: int | None) -> tuple[int, list[Outgoing]]:
            made = Outgoing(Topic.VETTING_EVENTS, "vol-1", f"{event.event_id}.out", b"{}")
            return (state or 0) + 1, [made]

        await apply_once(self.store, "app-1", event, decide, self.publish)

    async def consume(self, records: list[Sent], *, coalesce: Coalesce) -> None:
        protocol = BatchProtocol(SETTINGS, self.handle, _no_poison, _no_stop, coalesce=coalesce)
        with contextlib.suppress(Killed):
            await protocol.process(records)


async def _no_poison(record: Any, error: BaseException) -> None:
    raise AssertionError(f"dead letter: {error!r}")


def _no_stop(reason: str) -> Any:
    raise AssertionError(reason)


def records() -> Iterator[Sent]:
    """The same volunteer's facts on two topics: the aggregate is written from two source partitions."""
    application = samples.submitted("app-1")
    yield Sent(Topic.APPLICATION_INTAKE, 0, 7, b"vol-1", encode(application))
    yield Sent(Topic.VETTING_INTAKE, 1, 3, b"vol-1", encode(samples.screening(application, Check.MEDICAL)))


def first_copies(log: list[str]) -> list[str]:
    return list(dict.fromkeys(log))


async def test_a_redelivered_unit_in_another_partition_order_republishes_events_in_the_order_made() -> None:
    service = Service()
    submitted, screening = records()
    service.kill_at = 0  # both saved in one unit, killed before the first publish
    await service.consume([submitted, screening], coalesce=Coalesce.BATCH)
    await service.consume(
        [screening, submitted], coalesce=Coalesce.BATCH
    )  # redelivered, the other partition first
    made = [f"{r.value and msgspec.json.decode(r.value)['event_id']}.out" for r in (submitted, screening)]
    assert first_copies(service.log) == made


async def test_before_the_fix_that_redelivery_published_the_events_in_the_batch_order() -> None:
    with before_the_fix():
        service = Service()
        submitted, screening = records()
        service.kill_at = 0
        await service.consume([submitted, screening], coalesce=Coalesce.BATCH)
        await service.consume([screening, submitted], coalesce=Coalesce.BATCH)
    made = [f"{msgspec.json.decode(r.value or b'')['event_id']}.out" for r in (submitted, screening)]
    assert first_copies(service.log) == made[::-1]  # one event out of order on its key


async def test_a_message_of_another_partition_publishes_first_what_a_killed_one_saved_and_did_not() -> None:
    service = Service()
    submitted, screening = records()
    service.kill_at = 0
    await service.consume([submitted], coalesce=Coalesce.NO)  # saved, killed before its publish
    await service.consume([screening], coalesce=Coalesce.NO)  # the other partition's consumer goes on
    await service.consume([submitted], coalesce=Coalesce.NO)  # redelivered
    made = [f"{msgspec.json.decode(r.value or b'')['event_id']}.out" for r in (submitted, screening)]
    assert first_copies(service.log) == made
    with before_the_fix():
        service = Service()
        service.kill_at = 0
        for batch in ([submitted], [screening], [submitted]):
            await service.consume(batch, coalesce=Coalesce.NO)
    assert first_copies(service.log) == made[1:]  # the killed message's event was lost


async def test_a_copy_republished_at_a_new_offset_publishes_nothing_again_but_a_redelivery_does() -> None:
    service = Service()
    submitted, screening = records()
    await service.consume([submitted, screening], coalesce=Coalesce.NO)
    copy = msgspec.structs.replace(screening, offset=screening.offset + 5)
    published = len(service.log)
    await service.consume([copy], coalesce=Coalesce.NO)  # a copy: its original came first and published
    await service.consume([copy], coalesce=Coalesce.BATCH)
    assert len(service.log) == published
    await service.consume([screening], coalesce=Coalesce.NO)  # a redelivery publishes its outbox again
    assert len(service.log) == published + 2


def test_copies_no_longer_travel_between_placement_and_departure_forever() -> None:
    """Seed 2 of the simulation: before the fix, each copy of a departure event made placement republish its
    outbox, whose copies made departure republish its own, without end (the schedule never settled)."""
    result = simulate(2, max_steps=5_000)
    assert result.ok, [(check.name, check.detail) for check in result.failures]
