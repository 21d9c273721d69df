"""The faults the seed may inject at an await point of a replica: kill -9, a zombie, a rebalance, a
transient error of the database or the broker."""

from __future__ import annotations

import asyncio
import random

from aiokafka.errors import KafkaTimeoutError
from pymongo.errors import AutoReconnect

from tests.simulation.replica import Group, Ledger, Replica
from tests.simulation.scheduler import Actor, Scheduler

STORE_POINTS = frozenset({"load", "save", "saved", "find", "reserve", "reserved", "claim", "claimed"})
BROKER_POINTS = frozenset({"publish", "published", "dead letter"})
KINDS = ("crash", "crash", "crash", "zombie", "rebalance", "transient", "transient")


class Faults:
    """Strike replicas at their await points, at most `budget` times in a schedule."""

    def __init__(self, rng: random.Random, scheduler: Scheduler, groups: list[Group], ledger: Ledger) -> None:
        self.rng, self.scheduler, self.ledger = rng, scheduler, ledger
        self.budget = rng.choice((0, 1, 2, 3, 5, 8))
        self.replicas = {r.name: r for g in groups for r in g.replicas}
        scheduler.fault = self

    def __call__(self, actor: Actor, label: str) -> None:
        replica = self.replicas[actor.name.split("#")[0]]
        if self.budget <= 0 or replica.actor is not actor:
            return
        kind = self.rng.choice(KINDS)
        if kind == "transient" and label not in STORE_POINTS | BROKER_POINTS:
            return
        self.budget -= 1
        self.ledger.faults[kind] += 1
        if self.scheduler.trace is not None:
            self.scheduler.trace.append(f"{'':6} {actor.name:14} FAULT {kind} at {label}")
        getattr(self, kind)(replica, label)

    def crash(self, replica: Replica, label: str) -> None:
        """kill -9; the replica restarts later, keeping its partitions (static member) or after the group
        gave them to the other replica (a session timeout), and takes its share back when it rejoins."""
        group = replica.group
        replica.crash()
        others = group.live(but=replica)
        if others and self.rng.random() < 0.5:
            group.rebalance(others)
            self.scheduler.later(f"restart {replica.name}", lambda: self._rejoin(replica, start=True))
        else:
            self.scheduler.later(f"restart {replica.name}", replica.start)
        raise asyncio.CancelledError

    def zombie(self, replica: Replica, label: str) -> None:
        """The group gives the replica's partitions away while it keeps working (a long pause): its writes
        go on, its commit is refused; it rejoins later."""
        group = replica.group
        others = group.live(but=replica)
        if others:
            group.rebalance(others)
            self.scheduler.later(f"rejoin {replica.name}", lambda: self._rejoin(replica, start=False))

    def rebalance(self, replica: Replica, label: str) -> None:
        """A member joins or leaves: every partition is assigned anew and in-flight commits are refused."""
        replica.group.rebalance(replica.group.live())

    def transient(self, replica: Replica, label: str) -> None:
        """The database or the broker fails this call; after a write (`saved`, `published`) it was done."""
        if label in BROKER_POINTS:
            raise KafkaTimeoutError()
        raise AutoReconnect(f"simulated at {label}")

    def _rejoin(self, replica: Replica, *, start: bool) -> None:
        if start:
            replica.start()
        if replica.actor is not None and not replica.actor.dead:
            replica.group.rebalance(replica.group.live())
