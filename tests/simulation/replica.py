"""Replicas of a service in one consumer group: poll, the real `BatchProtocol`, commit; generations."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterable
from typing import NoReturn

from shared.aggregates import Outgoing
from shared.consuming import BatchProtocol, Consumed
from shared.contracts.topics import Topic
from shared.messaging import headers_of, where_and_why
from shared.settings import Settings
from tests.simulation.broker import Log, LogRecord
from tests.simulation.scheduler import Actor, Scheduler, current_actor
from tests.simulation.services import Service

Position = tuple[str, str, int, int]  # group, topic, partition, offset


class Ledger:
    """What happened to consumed records and replicas, for the invariants and the figures."""

    def __init__(self) -> None:
        self.processed: set[Position] = set()  # a batch holding it was applied through to its end
        self.dead: set[Position] = set()
        self.stops: list[str] = []  # why the protocol stopped a replica
        self.faults: Counter[str] = Counter()


class Group:
    """A service's consumer group: its replicas, the generation, which replica holds each partition."""

    def __init__(self, service: Service, log: Log, scheduler: Scheduler, rng: random.Random) -> None:
        self.service, self.log, self.scheduler, self.rng = service, log, scheduler, rng
        self.name = f"envol-{service.name}"
        self.generation = 0
        self.owner: dict[int, str] = {}  # partition (of every topic: the range assignor) -> replica
        self.replicas: list[Replica] = []

    def live(self, *, but: Replica | None = None) -> list[Replica]:
        return [r for r in self.replicas if r.actor is not None and not r.actor.dead and r is not but]

    def rebalance(self, members: Iterable[Replica]) -> None:
        """A new generation: the partitions split in ranges among `members`, in an order the seed picks."""
        names = [m.name for m in members]
        if not names:
            return
        self.rng.shuffle(names)
        self.generation += 1
        partitions = list(range(self.log.partitions))
        self.owner = {}
        for n, name in enumerate(names):
            share = partitions[n * len(partitions) // len(names) : (n + 1) * len(partitions) // len(names)]
            self.owner.update(dict.fromkeys(share, name))
        self.scheduler.news()


class Replica:
    """One replica of a service; each start is a new incarnation (an actor) from the last commit."""

    def __init__(self, group: Group, name: str, settings: Settings, ledger: Ledger) -> None:
        self.group, self.name, self.settings, self.ledger = group, name, settings, ledger
        self.actor: Actor | None = None
        self.incarnations = 0
        group.replicas.append(self)

    def start(self) -> None:
        self.incarnations += 1
        self.actor = Actor(f"{self.name}#{self.incarnations}")
        self.actor.task = asyncio.get_running_loop().create_task(self._run(self.actor))

    def crash(self) -> None:
        """kill -9: the incarnation's tasks end at their await points; nothing more of it happens."""
        assert self.actor is not None
        self.actor.dead = True
        self.group.scheduler.forget(self.actor)
        if self.actor.task is not None:
            self.actor.task.cancel()

    async def _run(self, actor: Actor) -> None:
        current_actor.set(actor)
        service, group, log, point = (
            self.group.service,
            self.group,
            self.group.log,
            self.group.scheduler.point,
        )
        protocol = BatchProtocol(
            self.settings, service.handler(self._publish), self._set_aside, self._stop,
            service.exclusive, service.coalesce,
        )  # fmt: skip
        generation, positions = -1, {}
        while True:
            await point("poll")
            if generation != group.generation:  # assigned anew: resume every partition from its commit
                generation = group.generation
                mine = [p for p, owner in group.owner.items() if owner == self.name]
                positions = {(t, p): log.position(group.name, t, p) for t in service.consumes for p in mine}
            batch = self._fetch(positions)
            if not batch:
                await group.scheduler.wait_for_news(service.consumes)
                continue
            await protocol.process(batch)
            self.ledger.processed.update((group.name, r.topic, r.partition, r.offset) for r in batch)
            await point("commit")
            if generation == group.generation:  # else the group moved on: the commit is refused
                for record in batch:
                    positions[(record.topic, record.partition)] = record.offset + 1
                    log.committed[(group.name, record.topic, record.partition)] = record.offset + 1

    def _fetch(self, positions: dict[tuple[str, int], int]) -> list[LogRecord]:
        rng, log = self.group.rng, self.group.log
        limit = rng.choice((1, 2, 5, 200))
        order = list(positions)
        rng.shuffle(order)
        batch: list[LogRecord] = []
        for topic, partition in order:
            batch += log.read(topic, partition, positions[(topic, partition)], limit - len(batch))
        return batch

    async def _publish(self, outgoing: Iterable[Outgoing]) -> None:
        point = self.group.scheduler.point
        for item in outgoing:
            await point("publish")
            record = self.group.log.append(item.topic, item.key.encode(), item.value, headers_of(item))
            if self.group.scheduler.trace is not None:
                where = f"{record.topic}:{record.partition}@{record.offset} {item.event_id}"
                self.group.scheduler.trace.append(
                    f"{'':6} {self.actor.name if self.actor else '':14} -> {where}"
                )
            await point("published")

    async def _set_aside(self, record: Consumed, error: BaseException) -> None:
        await self.group.scheduler.point("dead letter")
        self.group.log.append(Topic.DEAD_LETTER.value, record.key, record.value, where_and_why(record, error))
        self.ledger.dead.add((self.group.name, record.topic, record.partition, record.offset))

    def _stop(self, reason: str) -> NoReturn:
        self.ledger.stops.append(reason)
        self.crash()
        self.group.scheduler.later(f"restart {self.name}", self.start)
        raise asyncio.CancelledError
