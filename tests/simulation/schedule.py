"""One schedule: the seed builds the world, runs the four services' replicas under faults, then checks."""

from __future__ import annotations

import asyncio
import logging
import random
import time

import msgspec

from services.cli.audit import Check
from shared.contracts.topics import TOPICS as ALL_TOPICS
from shared.settings import Settings
from tests.simulation.broker import Log
from tests.simulation.faults import Faults
from tests.simulation.invariants import check, erased_everywhere
from tests.simulation.replica import Group, Ledger, Replica
from tests.simulation.scheduler import Actor, Scheduler, StuckError, current_actor
from tests.simulation.services import build
from tests.simulation.world import World, simulated_clock

TOPICS = tuple(str(topic) for topic in ALL_TOPICS)


class Result(msgspec.Struct):
    """What one schedule did and which invariants failed."""

    seed: int
    points: int
    steps: int
    faults: dict[str, int]
    failures: list[Check]
    seconds: float
    trace: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


FULL = (2, 3, 4)  # how many volunteers a schedule may have
SMALL = (2,)


def simulate(
    seed: int,
    *,
    volunteers: tuple[int, ...] = FULL,
    max_steps: int = 50_000,
    trace: bool = False,
    erasing: bool = False,
    selecting: bool = False,
) -> Result:
    """Run the schedule of `seed` (with a number of `volunteers` it picks; with `selecting`, three more who
    apply to a partner's opening that selects, whose host (by reference) and the agency choose one; one of
    them all erased on the way when `erasing`) and check every invariant."""
    started = time.perf_counter()
    logging.getLogger("envol").setLevel(logging.CRITICAL + 1)
    loop = asyncio.new_event_loop()
    try:
        with simulated_clock():
            return loop.run_until_complete(
                _simulate(seed, volunteers, max_steps, trace, started, erasing, selecting)
            )
    finally:
        loop.close()


async def _simulate(
    seed: int,
    volunteers: tuple[int, ...],
    max_steps: int,
    trace: bool,
    started: float,
    erasing: bool,
    selecting: bool = False,
) -> Result:
    rng = random.Random(seed)
    scheduler = Scheduler(
        rng,
        switch=rng.choice((0.1, 0.3, 0.6)),
        fault_rate=rng.choice((0.002, 0.01, 0.04)),
        max_steps=max_steps,
    )
    scheduler.trace = [] if trace else None
    log = Log(TOPICS, partitions=rng.choice((2, 3)), salt=rng.getrandbits(32))
    log.on_append = scheduler.news
    settings = Settings(retry_attempts=10, retry_base_seconds=0.0, concurrency=rng.choice((1, 2, 8)))
    ledger = Ledger()
    services = build(scheduler)
    groups = [Group(service, log, scheduler, rng) for service in services]
    for group in groups:
        replicas = [Replica(group, f"{group.service.name}-{n}", settings, ledger) for n in (1, 2)]
        for replica in replicas:
            replica.start()
        group.rebalance(replicas)
    Faults(rng, scheduler, groups, ledger)
    erasures = random.Random(f"erasing {seed}") if erasing else None
    world = World(log, scheduler, rng, volunteers, erasures, selecting, random.Random(f"declining {seed}"))
    world_actor = Actor("world", faulty=False)
    world_actor.task = asyncio.get_running_loop().create_task(_as(world_actor, world.run()))

    def done() -> bool:
        return (
            not scheduler.parked
            and world.idle()
            and not any(log.lag(g.name, g.service.consumes) for g in groups)
        )

    failures: list[Check] = []
    try:
        await scheduler.run(done)
    except StuckError as error:
        failures.append(Check("the schedule ends", False, str(error)))
    tasks = [r.actor.task for g in groups for r in g.replicas if r.actor and r.actor.task] + [
        world_actor.task
    ]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    placement = services[2].store
    failures += [c for c in check(log, groups, ledger, placement, world.expected, world.rivals) if not c.ok]
    if erasing:
        failures += [c for c in [erased_everywhere(services, world.erased)] if not c.ok]
    seconds = time.perf_counter() - started
    return Result(
        seed, scheduler.points, scheduler.steps, dict(ledger.faults), failures, seconds, scheduler.trace
    )


async def _as(actor: Actor, work: object) -> None:
    current_actor.set(actor)
    await work  # type: ignore[misc]
