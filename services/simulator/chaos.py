"""Fault scenarios: the four services under a load while something breaks; the audit judges each run."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import msgspec
from aiokafka.admin import AIOKafkaAdminClient

from services.cli.audit import Report, audit
from services.cli.erasure import erased_volunteers, purge
from services.cli.lag import settle
from services.cli.reading import read_all
from services.provision import provision
from services.simulator import fuzzing
from services.simulator.fuzzing import Input, Sent
from services.simulator.load import load_openings, load_personas
from services.simulator.play import Outcome, Outside, play
from services.simulator.poison import bad_inputs
from services.simulator.processes import ROOT, SERVICES, ServiceProcesses
from shared import samples
from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.settings import Settings

Fault = Callable[[asyncio.Task[Outcome], Outcome], Awaitable[list[float]]]  # returns recovery times


class Result(msgspec.Struct):
    """What one scenario did and what the audit found."""

    scenario: str
    expected: int
    completed: int
    seconds: float
    faults: int
    recovery_seconds: list[float]
    report: Report

    @property
    def ok(self) -> bool:
        return self.report.ok and self.completed == self.expected


async def prepare(settings: Settings, log_dir: Path, *services: str) -> ServiceProcesses:
    """Create the topics and start the services (the four by default) for a scenario."""
    await provision(settings)
    processes = ServiceProcesses(settings, log_dir)
    await asyncio.to_thread(processes.start, *(services or SERVICES))
    return processes


MISSIONS_EVERY = 4  # every fourth lifecycle of a scenario goes on to the mission's closure


async def _under_load(
    settings: Settings, name: str, lifecycles: int, fault: Fault, faults: Callable[[], int],
    dead_letters: int | None = None, missions_every: int = MISSIONS_EVERY,
    before_audit: Callable[[], Awaitable[object]] | None = None,
) -> Result:  # fmt: skip
    """Run `lifecycles` while `fault` breaks things, let the system settle, then audit the namespace (after
    `before_audit`: what an operator does once the run is over)."""
    run = settings.namespace
    personas, outcome = (
        load_personas(run, lifecycles, missions_every=missions_every),
        Outcome(reached={}, started={}, finished={}),
    )
    started = time.monotonic()
    task = asyncio.create_task(
        play(settings, load_openings(run, lifecycles, dt.date.today()), personas,
             seconds=max(300.0, lifecycles * 3.0), outcome=outcome)
    )  # fmt: skip
    recoveries = await fault(task, outcome)
    await task
    seconds = time.monotonic() - started
    await settle(settings)
    if before_audit is not None:
        await before_audit()
    expected = {p.application.application_id: p.expected_stage for p in personas}
    report = await audit(settings, expected=expected, dead_letters=dead_letters)
    return Result(name, lifecycles, len(outcome.finished), seconds, faults(), recoveries, report)


async def under_way(task: asyncio.Task[Outcome], outcome: Outcome, seconds: float) -> None:
    """Wait `seconds`, or less once a third of the lifecycles are done: a fault must land mid-run, however
    fast or slow the machine is today."""
    deadline = time.monotonic() + seconds
    total = len(outcome.started) or 1
    while time.monotonic() < deadline and not task.done() and len(outcome.finished) * 3 < total:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def kill_services(
    settings: Settings, processes: ServiceProcesses, lifecycles: int, every: float = 5.0
) -> Result:
    """kill -9 a service, rotating among the four, every `every` seconds, and start it again at once; the
    recovery figures are from each kill to the new process consuming again."""
    kills = 0

    async def fault(task: asyncio.Task[Outcome], outcome: Outcome) -> list[float]:
        nonlocal kills
        recoveries = []
        while not task.done():
            await asyncio.sleep(every)
            if not task.done():
                name = SERVICES[kills % len(SERVICES)]
                killed = time.monotonic()
                processes.kill(name)
                await asyncio.to_thread(processes.restart, name)
                recoveries.append(time.monotonic() - killed)
                kills += 1
        return recoveries

    return await _under_load(settings, "kill -9 services", lifecycles, fault, lambda: kills)


async def restart_server(
    settings: Settings, server: str, lifecycles: int, environment: Mapping[str, str], after: float = 8.0
) -> Result:
    """Stop the broker (`kafka`) or the database (`ferretdb`) mid-run and start it again; the recovery
    figures are the outage (stop to ready again) and the wait from then to the next lifecycle completed."""
    script = str(ROOT / "deploy" / "local" / f"{server}.sh")
    restarts = 0

    def pid() -> str:
        status = subprocess.run(
            ["bash", script, "status"], env=dict(environment), capture_output=True, text=True
        )
        return status.stdout.split("(pid ")[-1].split(")")[0] if "(pid " in status.stdout else ""

    async def fault(task: asyncio.Task[Outcome], outcome: Outcome) -> list[float]:
        nonlocal restarts
        await under_way(task, outcome, after)
        before = await asyncio.to_thread(pid)
        mid_run = not task.done()  # a restart after the last lifecycle proves nothing
        stopped = time.monotonic()
        await asyncio.to_thread(subprocess.run, ["bash", script, "stop"], env=dict(environment), check=True)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(subprocess.run, ["bash", script, "start"], env=dict(environment), check=True)
        restarts += mid_run and bool(before) and before != await asyncio.to_thread(pid)  # a new process
        back, done = time.monotonic(), len(outcome.finished)
        while not task.done() and len(outcome.finished) == done:  # noqa: ASYNC110 - polling progress
            await asyncio.sleep(0.1)
        return [back - stopped, time.monotonic() - back]  # the outage, then the wait for the next lifecycle

    return await _under_load(settings, f"restart {server}", lifecycles, fault, lambda: restarts)


async def kill_leader(settings: Settings, lifecycles: int, after: float = 6.0) -> Result:
    """On the three-broker cluster (`deploy/local/kafka-cluster.sh`), kill -9 the leader of a busy
    partition mid-run: with acks=all and min.insync.replicas 2, every acknowledged event must be consumed.
    The broker is started again after the run."""
    script = str(ROOT / "deploy" / "local" / "kafka-cluster.sh")
    killed: list[int] = []

    async def fault(task: asyncio.Task[Outcome], outcome: Outcome) -> list[float]:
        await under_way(task, outcome, after)
        leader = await partition_leader(settings, settings.topic(Topic.APPLICATION_EVENTS), 0)
        killing = await asyncio.to_thread(
            subprocess.run, ["bash", script, "kill", str(leader)], capture_output=True, text=True
        )
        if killing.returncode != 0:
            raise RuntimeError(f"could not kill broker {leader}: {killing.stderr[-1000:]}")
        if not task.done():  # a kill after the last lifecycle proves nothing
            killed.append(leader)
        gone, done = time.monotonic(), len(outcome.finished)
        while not task.done() and len(outcome.finished) == done:  # noqa: ASYNC110 - polling progress
            await asyncio.sleep(0.1)
        return [time.monotonic() - gone]  # from the leader's death to the next lifecycle completed

    try:
        return await _under_load(  # arrival only: the whole missions add time, not replication
            settings, "kill the partition leader", lifecycles, fault, lambda: len(killed), missions_every=0
        )
    finally:
        for node in killed:
            await asyncio.to_thread(subprocess.run, ["bash", script, "start", str(node)], check=False)


async def partition_leader(settings: Settings, topic: str, partition: int) -> int:
    """Return the node id leading a partition."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return int(next(p["leader"] for p in described["partitions"] if p["partition"] == partition))
    finally:
        await admin.close()


async def poison(settings: Settings, lifecycles: int, bad: int) -> Result:
    """Send `bad` hostile inputs to the intake topics while `lifecycles` run: each must be set aside."""

    async def fault(task: asyncio.Task[Outcome], outcome: Outcome) -> list[float]:
        async with Outside(settings) as outside:
            for start in range(0, bad, 500):
                chunk = list(bad_inputs(bad))[start : start + 500]
                sent = [await outside.producer(t).send(settings.topic(t), v, key=k) for t, k, _, v in chunk]
                await asyncio.gather(*sent)
        return []

    return await _under_load(settings, "bad inputs", lifecycles, fault, lambda: bad, dead_letters=bad)


async def fuzz(
    settings: Settings, lifecycles: int, inputs: Sequence[Input], names: Sequence[str] = ()
) -> Result:
    """Send generated hostile `inputs` to the intake topics while `lifecycles` run; besides the audit, every
    offset sent must end applied xor dead-lettered (`names`: the personal names the inputs were made of)."""
    sent: list[Sent] = []

    async def fault(task: asyncio.Task[Outcome], outcome: Outcome) -> list[float]:
        sent.extend(await fuzzing.send(settings, inputs))
        return []

    async def purge_erased() -> None:
        """Some inputs are the agency's valid erasure requests: finish each as `envol erase` does, by
        cutting the records about the volunteer off the topics (the services' tombstones are their part)."""
        for erased in await erased_volunteers(settings):
            await purge(settings, erased.volunteer_id)

    result = await _under_load(
        settings, "hostile inputs (fuzz)", lifecycles, fault, lambda: len(sent), before_audit=purge_erased
    )
    result.report.checks.append(await fuzzing.applied_xor_dead_lettered(settings, sent, names))
    return result


async def race(settings: Settings, processes: ServiceProcesses, candidates: int, seats: int) -> Result:
    """`candidates` cleared at once for one opening of `seats` seats, with a second placement replica:
    exactly `seats` proposals, the others wait."""
    await asyncio.to_thread(processes.start, "placement#2")
    run, today = settings.namespace, dt.date.today()
    people = [samples.submitted_now(f"{run}-a{n}", f"{run}-v{n}") for n in range(candidates)]
    opening = samples.opening(
        f"{run}-race", seats=seats, start_date=people[0].wishes.available_from,
        published_on=today - dt.timedelta(days=21),
    )  # fmt: skip
    started = time.monotonic()
    async with Outside(settings) as outside:
        await outside.send([samples.published(opening)])
        await outside.send([fact for person in people for fact in (person, *samples.all_screenings(person))])
        deadline = time.monotonic() + 120
        decided = 0
        while decided < candidates and time.monotonic() < deadline:
            decided += sum(
                e.event_type in ("PlacementProposed", "PlacementAwaited") for e in await outside.events()
            )
    await settle(settings)
    report = await audit(settings)
    events = [s.event for s in await read_all(settings, (Topic.PLACEMENT_EVENTS,)) if s.event]
    proposed = len({e.event_id for e in events if e.event_type == "PlacementProposed"})
    return Result("race for seats", seats, proposed, time.monotonic() - started, candidates, [], report)
