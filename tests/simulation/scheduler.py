"""The seeded scheduler: at every await point of a simulated task, the seed decides who runs next."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from contextvars import ContextVar

import msgspec

from shared.processing import current_position

Fault = Callable[["Actor", str], None]  # may raise into the task at its point (crash, transient error)


class StuckError(RuntimeError):
    """Nothing can run although the work is not done, or the schedule ran past its step limit."""


class Actor:
    """One incarnation of a simulated process (a replica, the outside world); its tasks share it."""

    def __init__(self, name: str, faulty: bool = True) -> None:
        self.name = name
        self.faulty = faulty  # faults may strike it
        self.dead = False
        self.task: asyncio.Task[None] | None = None


class Parked(msgspec.Struct):
    """A task waiting at a point (or a pending action, such as a restart) for the scheduler to pick it."""

    actor: Actor | None
    label: str
    wake: Callable[[], None]


class Scheduler:
    """Runs simulated tasks one at a time: each point may hand over to another task, chosen by the seed."""

    def __init__(self, rng: random.Random, *, switch: float, fault_rate: float, max_steps: int) -> None:
        self.rng = rng
        self.switch = switch  # the chance that a point hands over to another task
        self.fault_rate = fault_rate
        self.max_steps = max_steps
        self.fault: Fault = lambda actor, label: None
        self.parked: list[Parked] = []
        self.idle: list[Parked] = []  # tasks waiting for new records or a new assignment
        self.points = 0
        self.steps = 0
        self.trace: list[str] | None = None  # every point, when asked for: `--seed S --trace`

    async def point(self, label: str) -> None:
        """An await point of the current actor: a fault may strike here, and another task may run."""
        actor = current_actor.get()
        if actor is None:
            return
        if actor.dead:
            raise asyncio.CancelledError
        self.points += 1
        if self.trace is not None:
            position = current_position.get()
            where = f" {position.source}@{position.offset}" if position else ""
            self.trace.append(f"{self.points:6} {actor.name:14} {label}{where}")
        if actor.faulty and self.rng.random() < self.fault_rate:
            self.fault(actor, label)
        if self.rng.random() < self.switch:
            await self._park(actor, label, self.parked)

    async def wait_for_news(self, topics: Iterable[str]) -> None:
        """Park the current actor until records are appended to one of `topics` or partitions move."""
        actor = current_actor.get()
        assert actor is not None
        await self._park(actor, " ".join(topics), self.idle)

    def news(self, topic: str | None = None) -> None:
        """Records were appended to `topic`, or partitions moved: idle tasks may have work again."""
        woken = [p for p in self.idle if topic is None or topic in p.label.split()]
        self.idle = [p for p in self.idle if p not in woken]
        self.parked.extend(woken)

    def later(self, label: str, action: Callable[[], None]) -> None:
        """Run `action` (a restart, a rejoin) when the scheduler picks it: after a random delay."""
        self.parked.append(Parked(None, label, action))

    def forget(self, actor: Actor) -> None:
        """Drop the parked tasks of a crashed actor (its task is cancelled)."""
        self.parked = [p for p in self.parked if p.actor is not actor]
        self.idle = [p for p in self.idle if p.actor is not actor]

    async def _park(self, actor: Actor, label: str, where: list[Parked]) -> None:
        future = asyncio.get_running_loop().create_future()
        where.append(Parked(actor, label, lambda: future.done() or future.set_result(None)))
        await future
        if actor.dead:
            raise asyncio.CancelledError

    async def run(self, done: Callable[[], bool]) -> None:
        """Let the tasks run, one at a time, until `done()`; raise StuckError if they cannot get there."""
        while True:
            await settle()
            if done():
                return
            if not self.parked:
                raise StuckError(f"nothing can run ({len(self.idle)} idle) and the work is not done")
            self.steps += 1
            if self.steps > self.max_steps:
                raise StuckError(f"no end after {self.max_steps} steps")
            self.parked.pop(self.rng.randrange(len(self.parked))).wake()


async def settle() -> None:
    """Return once every task is waiting on the scheduler: nothing else is ready to run."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(0)
        if not loop._ready:  # type: ignore[attr-defined]  # CPython's queue of ready callbacks
            return


current_actor: ContextVar[Actor | None] = ContextVar("current_actor", default=None)
