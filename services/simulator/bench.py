"""`make bench`: the system against a raw relay baseline in the same run, A B A B, medians and ratio.

The system: the four services as processes, N complete lifecycles, every guarantee on. The baseline: four
raw relay hops (`services.simulator.relay`) carrying as many messages per hop as the services consumed.
The figure compared is messages consumed per second across the four hops.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import typer
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient
from rich.progress import Progress
from rich.table import Table

from services.cli.output import console as terminal
from services.simulator.load import load_openings, load_personas
from services.simulator.play import play
from services.simulator.processes import ROOT, ServiceProcesses, service_environment
from shared import samples
from shared.admin import ensure_topics
from shared.contracts.codec import encode
from shared.contracts.topics import Topic
from shared.settings import Settings

CONSUMED = {  # the topics each service consumes (see each service's router)
    "application": (Topic.APPLICATION_INTAKE,),
    "vetting": (Topic.APPLICATION_EVENTS, Topic.VETTING_INTAKE),
    "placement": (
        Topic.APPLICATION_EVENTS,
        Topic.VETTING_EVENTS,
        Topic.PLACEMENT_INTAKE,
        Topic.DEPARTURE_EVENTS,
    ),
    "departure": (Topic.PLACEMENT_EVENTS, Topic.APPLICATION_EVENTS, Topic.DEPARTURE_INTAKE),
}


class Run(msgspec.Struct):
    """One timed run: how many messages the four hops consumed, in how long."""

    kind: str
    seconds: float
    messages: int
    lifecycles: int = 0
    cpu_us_per_message: dict[str, float] = {}
    peak_rss_mb: dict[str, float] = {}

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def _namespaced(settings: Settings, kind: str) -> Settings:
    run = f"bench{kind}{dt.datetime.now(dt.UTC):%H%M%S%f}"[:24]
    return msgspec.structs.replace(settings, namespace=run, database_prefix=run)


async def _counts(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Return how many records each topic holds (a fresh namespace: its end offsets)."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()  # without a group, every partition of the topics is assigned at once
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        return {t: sum(n for tp, n in ends.items() if tp.topic == t) for t in topics}
    finally:
        await consumer.stop()


def _process_figures(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    hwm = next(
        line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")
    )
    return cpu, int(hwm.split()[1]) / 1024


async def system_run(base: Settings, lifecycles: int, logs: Path) -> Run:
    """The four services under `lifecycles` complete lifecycles, all submitted at once."""
    settings = _namespaced(base, "sys")
    await ensure_topics(settings)
    processes = ServiceProcesses(settings, logs)
    await asyncio.to_thread(processes.start)
    try:
        run = settings.namespace
        personas = load_personas(run, lifecycles)
        at_start = {
            name: _process_figures(p.pid)[0] for name, p in processes.processes.items()
        }  # start-up CPU
        started = time.monotonic()
        outcome = await play(
            settings, load_openings(run, lifecycles, dt.date.today()), personas, seconds=1800
        )
        seconds = time.monotonic() - started
        counts = await _counts(settings, [settings.topic(t) for t in Topic])
        consumed = {s: sum(counts[settings.topic(t)] for t in topics) for s, topics in CONSUMED.items()}
        figures = {name: _process_figures(p.pid) for name, p in processes.processes.items()}
    finally:
        processes.stop()
    if len(outcome.finished) < lifecycles:
        raise RuntimeError(f"only {len(outcome.finished)}/{lifecycles} lifecycles completed")
    return Run(
        "system", seconds, sum(consumed.values()), lifecycles,
        {s: (figures[s][0] - at_start[s]) / consumed[s] * 1e6 for s in consumed},
        {s: figures[s][1] for s in consumed},
    )  # fmt: skip


async def baseline_run(base: Settings, per_hop: int, logs: Path) -> Run:
    """Four raw relay hops carrying `per_hop` realistic messages each."""
    settings = _namespaced(base, "raw")
    hops = [f"{settings.namespace}.hop{n}" for n in range(5)]
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics(
        [NewTopic(h, settings.topic_partitions, settings.topic_replication) for h in hops]
    )
    await admin.close()
    relays = await asyncio.to_thread(_start_relays, settings, hops, logs)
    try:
        for relay in relays:
            assert relay.stdout is not None
            await asyncio.to_thread(relay.stdout.readline)  # "relay ready"
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=5
        )
        await producer.start()
        started = time.monotonic()
        facts = [samples.submitted_now(f"r{n}", f"v{n}") for n in range(per_hop)]
        await asyncio.gather(
            *[await producer.send(hops[0], encode(f), key=f.subject_id.encode()) for f in facts]
        )
        await producer.stop()
        deadline = time.monotonic() + 900
        while (await _counts(settings, [hops[4]]))[hops[4]] < per_hop:
            if time.monotonic() > deadline or any(relay.poll() is not None for relay in relays):
                raise RuntimeError(f"the baseline relay stopped or stalled; see {logs}/relay*.log")
            await asyncio.sleep(0.1)
        seconds = time.monotonic() - started
    finally:
        for relay in relays:
            relay.kill()
    return Run("baseline", seconds, 4 * per_hop)


def _start_relays(settings: Settings, hops: list[str], logs: Path) -> list[subprocess.Popen[bytes]]:
    environment, prefix = service_environment(settings), settings.database_prefix
    return [
        subprocess.Popen(
            [sys.executable, "-m", "services.simulator.relay", hops[n], hops[n + 1], f"{prefix}_r{n}"],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=(logs / f"relay{n}.log").open("wb"),
        )
        for n in range(4)
    ]  # fmt: skip


async def server_name(settings: Settings) -> str:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongodb_url)
    info = await client.admin.command("buildInfo")
    await client.close()
    return (
        f"FerretDB {info['ferretdbVersion']} (SQLite)"
        if "ferretdbVersion" in info
        else f"MongoDB {info['version']}"
    )


def bench(
    lifecycles: int = typer.Option(200, "--lifecycles", "-n", help="Lifecycles per system run"),
    pairs: int = typer.Option(3, help="A/B pairs (system, then baseline)"),
    folder: str = typer.Option("bench-results", "--out", help="Where to write the JSON file"),
) -> None:
    """Run the system and the baseline alternately, then print medians, the ratio and the costs."""
    settings, out = Settings.from_env(), Path(folder)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    with Progress() as bar:
        task = bar.add_task("A B pairs", total=2 * pairs)
        for _ in range(pairs):
            runs.append(asyncio.run(system_run(settings, lifecycles, logs)))
            bar.advance(task)
            runs.append(asyncio.run(baseline_run(settings, runs[-1].messages // 4, logs)))
            bar.advance(task)
    system = [r for r in runs if r.kind == "system"]
    baseline = [r for r in runs if r.kind == "baseline"]
    sys_rate, raw_rate = (
        statistics.median(r.rate for r in system),
        statistics.median(r.rate for r in baseline),
    )
    database = asyncio.run(server_name(settings))
    table = Table(
        title=f"Envol bench: {lifecycles} lifecycles x {pairs} pairs on {database}, {os.cpu_count()} cores"
    )
    for column in ("run", "messages", "seconds", "messages/s", "lifecycles/s"):
        table.add_column(column, justify="right")
    for r in runs:
        per = f"{r.lifecycles / r.seconds:.2f}" if r.lifecycles else ""
        table.add_row(r.kind, str(r.messages), f"{r.seconds:.1f}", f"{r.rate:.0f}", per)
    table.add_row("[bold]median ratio system/baseline[/]", "", "", f"[bold]{sys_rate / raw_rate:.2f}[/]", "")
    console = terminal()
    console.print(table)
    costs = Table(title="Per service (median of the system runs)")
    for column in ("service", "CPU µs per consumed message", "peak RSS MB"):
        costs.add_column(column, justify="right")
    for service in CONSUMED:
        cpu = statistics.median(r.cpu_us_per_message[service] for r in system)
        rss = max(r.peak_rss_mb[service] for r in system)
        costs.add_row(service, f"{cpu:.0f}", f"{rss:.0f}")
    console.print(costs)
    result = {
        "at": dt.datetime.now(dt.UTC).isoformat(), "database": database, "cores": os.cpu_count(),
        "lifecycles": lifecycles, "ratio": sys_rate / raw_rate,
        "runs": [msgspec.to_builtins(r) for r in runs],
    }  # fmt: skip
    path = out / f"bench-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {path}")


if __name__ == "__main__":
    typer.run(bench)
