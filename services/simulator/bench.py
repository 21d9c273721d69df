"""`make bench`: the system against a raw relay baseline in the same run, A B A B, medians and ratio.

The system: the four services as processes, N complete lifecycles, every guarantee on. The baseline: four
raw relay hops (`services.simulator.relay`) carrying as many messages per hop as the services consumed.
The figure compared is messages consumed per second across the four hops.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from msgspec.structs import replace
from rich.progress import Progress
from rich.table import Table

from services.cli.output import console as terminal
from services.cli.reading import read_all, records
from services.grants import ROUTERS
from services.provision import provision
from services.simulator.latency import percentiles, relay_hops, system_hops
from services.simulator.load import load_openings, load_personas
from services.simulator.play import play
from services.simulator.processes import ROOT, SERVICES, ServiceProcesses, service_environment
from services.simulator.profiles import Profile, sampling, summarise
from services.simulator.servers import BACKENDS, backend, database_pids, tree_cpu_seconds
from services.simulator.traces import span_sink
from shared import samples
from shared.contracts.codec import encode
from shared.contracts.topics import TOPICS
from shared.kafka import client_options
from shared.mongo import mongo_client
from shared.settings import Settings

CONSUMED = {router.NAME: router.CONSUMES for router in ROUTERS}
DATABASE = "database server"  # its CPU per consumed message, beside the services' (see servers.py)


class Run(msgspec.Struct):
    """One timed run: how many messages the four hops consumed, in how long."""

    kind: str
    seconds: float
    messages: int
    lifecycles: int = 0
    cpu_us_per_message: dict[str, float] = {}
    peak_rss_mb: dict[str, float] = {}
    replicas: int = 1  # service replicas, and partitions per topic
    offered: float | None = None  # open loop: lifecycles (system) or messages (baseline) sent per second
    database_commands: int = 0  # find, insert, update and delete commands the database served
    cores_busy: float = 0.0  # cores the whole machine kept busy on average (servers, services, load)
    cores_measured: float = 0.0  # of which the measured processes (services or relays)
    hop_seconds: dict[str, float] = {}  # open loop: p50/p95/p99 of consume → handle → produce
    lifecycle_seconds: dict[str, float] = {}  # open loop: p50/p95/p99 from first fact to final stage
    profiles: dict[str, Profile] = {}  # a profiled run: where each service's CPU went
    idle_cpu_ms_per_s: dict[str, float] = {}  # each service's CPU with nothing to consume, before the run

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def namespaced(settings: Settings, kind: str) -> Settings:
    run = f"bench{kind}{dt.datetime.now(dt.UTC):%H%M%S%f}"[:24]
    return msgspec.structs.replace(settings, namespace=run, database_prefix=run)


async def _counts(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Return how many records each topic holds (a fresh namespace: its end offsets)."""
    consumer = AIOKafkaConsumer(*topics, **client_options(settings))
    await consumer.start()  # without a group, every partition of the topics is assigned at once
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        return {t: sum(n for tp, n in ends.items() if tp.topic == t) for t in topics}
    finally:
        await consumer.stop()


def _machine_busy() -> float:
    """CPU seconds all cores spent busy since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def _process_figures(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    hwm = next(
        line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")
    )
    return cpu, int(hwm.split()[1]) / 1024


class Meter:
    """What a run cost, from its start: seconds, busy cores, database commands, each process's CPU and RSS,
    and the database server's CPU (`DATABASE`, when this checkout's scripts started it)."""

    def __init__(self, settings: Settings, pids: dict[str, int]) -> None:
        self.settings, self.pids = settings, pids
        self.database_pids = database_pids()

    async def start(self) -> Meter:
        self.cpu = {name: _process_figures(pid)[0] for name, pid in self.pids.items()}  # after start-up
        self.database_cpu = tree_cpu_seconds(self.database_pids)
        self.commands = await database_commands(self.settings)
        self.busy, self.started = _machine_busy(), time.monotonic()
        return self

    def seconds(self) -> float:
        return time.monotonic() - self.started

    async def stop(self) -> tuple[float, float, int, dict[str, tuple[float, float]]]:
        """Seconds, busy cores, database commands, and per process (CPU seconds used, peak RSS MB), the
        database server among them when measured."""
        seconds = self.seconds()
        busy = (_machine_busy() - self.busy) / seconds
        commands = await database_commands(self.settings) - self.commands
        figures = {name: _process_figures(pid) for name, pid in self.pids.items()}
        used = {name: (cpu - self.cpu[name], rss) for name, (cpu, rss) in figures.items()}
        if self.database_pids:
            used[DATABASE] = (tree_cpu_seconds(self.database_pids) - self.database_cpu, 0.0)
        return seconds, busy, commands, used


IDLE_SECONDS = 2.0


async def idle_cpu(pids: dict[str, int]) -> dict[str, float]:
    """Each process's CPU, in ms per second, over IDLE_SECONDS with nothing to consume: what it costs to
    stay in its group, poll the broker and keep its connections, whatever the load."""
    before = {name: _process_figures(pid)[0] for name, pid in pids.items()}
    await asyncio.sleep(IDLE_SECONDS)
    return {
        name: (_process_figures(pid)[0] - before[name]) * 1000 / IDLE_SECONDS for name, pid in pids.items()
    }


async def system_run(
    base: Settings,
    lifecycles: int,
    logs: Path,
    *,
    rate: float | None = None,
    replicas: int = 1,
    profiles: Path | None = None,
) -> Run:
    """The four services (each `replicas` times, over as many partitions when more than one) under
    `lifecycles` complete lifecycles, all submitted at once or `rate` per second; with `profiles`, each
    service sampled by py-spy, its stacks written there."""
    settings = namespaced(base, "sys")
    if replicas > 1:
        settings = msgspec.structs.replace(settings, topic_partitions=replicas)
    await provision(settings)
    processes = ServiceProcesses(settings, logs)
    names = [name if n == 1 else f"{name}#{n}" for name in SERVICES for n in range(1, replicas + 1)]
    await asyncio.to_thread(processes.start, *names)
    try:
        run = settings.namespace
        personas = load_personas(run, lifecycles)
        pids = {name: p.pid for name, p in processes.processes.items()}
        idle = await idle_cpu(pids)
        meter = await Meter(settings, pids).start()
        sampled: contextlib.AbstractContextManager[dict[str, Path]] = (
            sampling(pids, profiles) if profiles else contextlib.nullcontext({})
        )
        with sampled as stacks:
            outcome = await play(
                settings, load_openings(run, lifecycles, dt.date.today()), personas, seconds=1800, rate=rate
            )
            seconds, busy, commands, used = await meter.stop()
        counts = await _counts(settings, [settings.topic(t) for t in TOPICS])
        consumed = {s: sum(counts[settings.topic(t)] for t in topics) for s, topics in CONSUMED.items()}
        hops = percentiles(system_hops(await read_all(settings))) if rate else {}
    finally:
        processes.stop()
    if len(outcome.finished) < lifecycles:
        raise RuntimeError(f"only {len(outcome.finished)}/{lifecycles} lifecycles completed")
    cpu = {s: sum(used[n][0] for n in names if n.split("#")[0] == s) for s in consumed}
    per_message = {s: cpu[s] / consumed[s] * 1e6 for s in consumed}
    if DATABASE in used:
        per_message[DATABASE] = used[DATABASE][0] / sum(consumed.values()) * 1e6
    return Run(
        "system", seconds, sum(consumed.values()), lifecycles, per_message,
        {s: max(used[n][1] for n in names if n.split("#")[0] == s) for s in consumed},
        replicas, rate, commands, busy, sum(cpu.values()) / seconds, hops,
        percentiles(outcome.latencies()) if rate else {},
        profiles={n: summarise(path.read_text().splitlines()) for n, path in stacks.items()},
        idle_cpu_ms_per_s={s: sum(idle[n] for n in names if n.split("#")[0] == s) for s in consumed},
    )  # fmt: skip


async def baseline_run(base: Settings, per_hop: int, logs: Path, *, rate: float | None = None) -> Run:
    """Four raw relay hops carrying `per_hop` realistic messages each, all at once or `rate` per second."""
    settings = namespaced(base, "raw")
    hops = [f"{settings.namespace}.hop{n}" for n in range(5)]
    admin = AIOKafkaAdminClient(**client_options(settings))
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
        producer = AIOKafkaProducer(**client_options(settings), acks="all", linger_ms=5)
        await producer.start()
        meter = await Meter(settings, {str(n): relay.pid for n, relay in enumerate(relays)}).start()
        sent = []
        for n in range(per_hop):
            if rate:
                await asyncio.sleep(max(0.0, meter.started + n / rate - time.monotonic()))
            fact = samples.submitted_now(f"r{n}", f"v{n}")
            sent.append(await producer.send(hops[0], encode(fact), key=fact.subject_id.encode()))
        await asyncio.gather(*sent)
        await producer.stop()
        while (await _counts(settings, [hops[4]]))[hops[4]] < per_hop:
            if meter.seconds() > 900 or any(relay.poll() is not None for relay in relays):
                raise RuntimeError(f"the baseline relay stopped or stalled; see {logs}/relay*.log")
            await asyncio.sleep(0.1)
        seconds, busy, commands, used = await meter.stop()
        latency = percentiles(relay_hops([await _stamps(settings, hop) for hop in hops])) if rate else {}
    finally:
        for relay in relays:
            relay.kill()
    database = used.pop(DATABASE, None)
    per_message = {"relay hop": statistics.median(cpu for cpu, _ in used.values()) / per_hop * 1e6}
    if database is not None:
        per_message[DATABASE] = database[0] / (4 * per_hop) * 1e6
    return Run(
        "baseline", seconds, 4 * per_hop, cpu_us_per_message=per_message,
        peak_rss_mb={"relay hop": max(rss for _, rss in used.values())}, offered=rate,
        database_commands=commands, cores_busy=busy,
        cores_measured=sum(cpu for cpu, _ in used.values()) / seconds, hop_seconds=latency,
    )  # fmt: skip


async def _stamps(settings: Settings, topic: str) -> dict[bytes, float]:
    """Each key's record timestamp on a topic, in seconds."""
    return {record.key: record.timestamp / 1000 async for record in records(settings, [topic])}


def _start_relays(settings: Settings, hops: list[str], logs: Path) -> list[subprocess.Popen[bytes]]:
    environment, prefix = service_environment(settings), settings.database_prefix
    return [
        subprocess.Popen(
            [sys.executable, "-m", "services.simulator.relay", hops[n], hops[n + 1], f"{prefix}_r{n}"],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=(logs / f"relay{n}.log").open("wb"),
        )
        for n in range(4)
    ]  # fmt: skip


async def database_commands(settings: Settings) -> int:
    """How many find, insert, update and delete commands the database server has served so far."""
    client = mongo_client(settings, "envol-bench")
    try:
        counts = (await client.admin.command("serverStatus"))["metrics"]["commands"]
    finally:
        await client.close()
    return sum(int(counts.get(name, {}).get("total", 0)) for name in ("find", "insert", "update", "delete"))


async def server_name(settings: Settings) -> str:
    client = mongo_client(settings, "envol-bench")
    info = await client.admin.command("buildInfo")
    await client.close()
    return (
        f"FerretDB {info['ferretdbVersion']} ({BACKENDS.get(backend(), backend())})"
        if "ferretdbVersion" in info
        else f"MongoDB {info['version']}"
    )


def bench(
    lifecycles: int = typer.Option(200, "--lifecycles", "-n", help="Lifecycles per system run"),
    pairs: int = typer.Option(3, help="A/B pairs (system, then baseline)"),
    latency_seconds: float = typer.Option(
        60, help="Length of the open-loop runs at 50 % of the maximum; 0 skips"
    ),
    scaling: str = typer.Option("1,2,4", help="Partitions and replicas to compare; empty skips"),
    folder: str = typer.Option("bench-results", "--out", help="Where to write the JSON file"),
    plaintext: str = typer.Option(
        "", help="A plaintext broker (host:port) to run the system on too, for the cost of TLS and SCRAM"
    ),
    warmup: bool = typer.Option(
        True, "--warmup/--no-warmup", help="First a system run of a quarter of N, not reported (cold caches)"
    ),
    observability: bool = typer.Option(
        True,
        "--observability/--no-observability",
        help="In each pair, the system also with tracing on (exported to a local span sink) and with "
        "metrics and tracing off, for their cost",
    ),
    profile: bool = typer.Option(
        True, "--profile/--no-profile", help="Last, a system run with every service sampled by py-spy"
    ),
) -> None:
    """Run the system and the baseline alternately, then open loop at half the maximum, then with more
    partitions and replicas; print the tables and write them as JSON."""
    settings, out = Settings.from_env(), Path(folder)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    steps = [int(k) for k in scaling.split(",") if k.strip()]
    runs: list[Run] = []
    with Progress() as bar:
        per_pair = 2 + bool(plaintext) + 2 * observability
        total = per_pair * pairs + (2 if latency_seconds else 0) + len(steps) + warmup + profile
        task = bar.add_task("bench runs", total=total)
        if warmup:  # the first run of a session is slower (servers' and page caches cold): not compared
            asyncio.run(system_run(settings, max(5, lifecycles // 4), logs))
            bar.advance(task)
        for _ in range(pairs):
            runs.append(asyncio.run(system_run(settings, lifecycles, logs)))
            bar.advance(task)
            runs.append(asyncio.run(baseline_run(settings, runs[-1].messages // 4, logs)))
            bar.advance(task)
            if plaintext:
                runs.append(asyncio.run(system_run(unsecured(settings, plaintext), lifecycles, logs)))
                runs[-1].kind = "system, plaintext broker"
                bar.advance(task)
            if observability:
                runs += observability_runs(settings, lifecycles, logs)
                bar.advance(task, 2)
        closed = [r for r in runs if r.kind == "system"]
        if latency_seconds:
            rate = statistics.median(r.lifecycles / r.seconds for r in closed) / 2
            per_lifecycle = statistics.median(r.messages / r.lifecycles for r in closed)
            count = max(20, round(rate * latency_seconds))
            runs.append(asyncio.run(system_run(settings, count, logs, rate=rate)))
            bar.advance(task)
            per_hop = round(count * per_lifecycle / 4)
            runs.append(asyncio.run(baseline_run(settings, per_hop, logs, rate=per_hop / runs[-1].seconds)))
            bar.advance(task)
        for replicas in steps:
            runs.append(asyncio.run(system_run(settings, lifecycles, logs, replicas=replicas)))
            runs[-1].kind = "scaling"
            bar.advance(task)
        if profile:  # not compared: sampling costs some CPU of its own
            stacks = out / f"profiles-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
            runs.append(asyncio.run(system_run(settings, lifecycles, logs, profiles=stacks)))
            runs[-1].kind = PROFILED
            bar.advance(task)
    database = asyncio.run(server_name(settings))
    report(runs, lifecycles, pairs, database)
    result = {
        "at": dt.datetime.now(dt.UTC).isoformat(), "database": database, "cores": os.cpu_count(),
        "lifecycles": lifecycles, "runs": [msgspec.to_builtins(r) for r in runs],
    }  # fmt: skip
    path = out / f"bench-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    terminal().print(f"wrote {path}")


TRACED, BARE = "system, tracing on", "system, metrics and tracing off"
PROFILED = "system, profiled"


def observability_runs(settings: Settings, lifecycles: int, logs: Path) -> list[Run]:
    """The system with tracing on (every span exported by OTLP/HTTP to a sink in this process), then with
    metrics and tracing off; the system runs of the pair have metrics on and tracing off, the defaults."""
    with span_sink(keep=False) as sink:
        traced = asyncio.run(system_run(replace(settings, otlp_endpoint=sink.endpoint), lifecycles, logs))
    if not sink.exports:
        raise RuntimeError("tracing was on, but no service exported a span")
    bare = asyncio.run(system_run(replace(settings, metrics=False, otlp_endpoint=""), lifecycles, logs))
    traced.kind, bare.kind = TRACED, BARE
    return [traced, bare]


def unsecured(settings: Settings, bootstrap: str) -> Settings:
    """The same system on a plaintext broker without ACLs: no TLS, no SASL."""
    return msgspec.structs.replace(
        settings,
        kafka_bootstrap_servers=bootstrap,
        kafka_security_protocol="PLAINTEXT",
        kafka_passwords_file="",
    )


def closed_loop(runs: list[Run]) -> tuple[list[Run], list[Run], float]:
    """The closed-loop runs of the system and of the baseline, and the ratio of their median rates."""
    closed = [r for r in runs if r.kind == "system" and r.offered is None]
    raw = [r for r in runs if r.kind == "baseline" and r.offered is None]
    return closed, raw, statistics.median(r.rate for r in closed) / statistics.median(r.rate for r in raw)


def report(runs: list[Run], lifecycles: int, pairs: int, database: str) -> None:
    """Print the throughput, cost, latency and scaling tables."""
    console = terminal()
    closed, raw, ratio = closed_loop(runs)
    table = Table(
        title=f"Envol bench: {lifecycles} lifecycles x {pairs} pairs on {database}, {os.cpu_count()} cores"
    )
    for column in ("run", "messages", "seconds", "messages/s", "lifecycles/s", "cores busy (its processes)"):
        table.add_column(column, justify="right")
    for r in [r for r in runs if r.offered is None and r.kind != "scaling"]:
        per = f"{r.lifecycles / r.seconds:.2f}" if r.lifecycles else ""
        cores = f"{r.cores_busy:.2f} ({r.cores_measured:.2f})"
        table.add_row(r.kind, str(r.messages), f"{r.seconds:.1f}", f"{r.rate:.0f}", per, cores)
    table.add_row("[bold]median ratio system/baseline[/]", "", "", f"[bold]{ratio:.2f}[/]", "", "")
    plain = [r for r in runs if r.kind == "system, plaintext broker"]
    if plain:
        secured = statistics.median(r.rate for r in closed) / statistics.median(r.rate for r in plain)
        table.add_row(
            "[bold]median ratio secured/plaintext (system)[/]", "", "", f"[bold]{secured:.2f}[/]", "", ""
        )
    console.print(table)
    costs = Table(title="Costs (medians of the closed-loop runs)")
    for column in ("process", "CPU µs per consumed message", "peak RSS MB", "idle CPU ms/s"):
        costs.add_column(column, justify="right")
    plain = [r for r in runs if r.kind == "system, plaintext broker"]
    by_kind = [*(("system", s, closed) for s in CONSUMED), ("baseline", "relay hop", raw)]
    by_kind += [("system, plaintext broker", s, plain) for s in CONSUMED] if plain else []
    for kind, process, group in by_kind:
        cpu = statistics.median(r.cpu_us_per_message[process] for r in group)
        idle = [r.idle_cpu_ms_per_s[process] for r in group if process in r.idle_cpu_ms_per_s]
        costs.add_row(
            f"{kind}: {process}", f"{cpu:.0f}", f"{max(r.peak_rss_mb[process] for r in group):.0f}",
            f"{statistics.median(idle):.1f}" if idle else "",
        )  # fmt: skip
    for kind, group in (("system", closed), ("baseline", raw)):
        commands = statistics.median(r.database_commands / r.messages for r in group)
        costs.add_row(f"{kind}: database commands per consumed message", f"{commands:.2f}", "", "")
        server = [r.cpu_us_per_message[DATABASE] for r in group if DATABASE in r.cpu_us_per_message]
        if server:
            costs.add_row(f"{kind}: {DATABASE}", f"{statistics.median(server):.0f}", "", "")
    console.print(costs)
    observed = {k: [r for r in runs if r.kind == k and r.offered is None] for k in (BARE, "system", TRACED)}
    if observed[BARE]:
        observability_table(observed)
    open_loop = [r for r in runs if r.offered is not None]
    if open_loop:
        latency = Table(title="Open loop at 50 % of the maximum: one hop (consume, handle, produce)")
        for column in (
            "run",
            "offered /s",
            "hop p50 ms",
            "hop p95 ms",
            "hop p99 ms",
            "lifecycle p50/p95/p99 s",
        ):
            latency.add_column(column, justify="right")
        for r in open_loop:
            unit = "lifecycles" if r.kind == "system" else "messages"
            whole = (
                "/".join(f"{r.lifecycle_seconds[p]:.1f}" for p in ("p50", "p95", "p99"))
                if r.lifecycle_seconds
                else ""
            )
            latency.add_row(
                r.kind,
                f"{r.offered:.1f} {unit}",
                *(f"{r.hop_seconds[p] * 1000:.0f}" for p in ("p50", "p95", "p99")),
                whole,
            )
        p99 = open_loop[0].hop_seconds["p99"] / open_loop[-1].hop_seconds["p99"]
        latency.add_row("[bold]p99 ratio system/baseline[/]", "", "", "", f"[bold]{p99:.2f}[/]", "")
        console.print(latency)
    steps = [r for r in runs if r.kind == "scaling"]
    if steps:
        scaling = Table(title="Partitions and replicas (each service as N processes, N partitions per topic)")
        for column in ("N", "messages/s", "lifecycles/s", "vs N=1", "cores busy (services)"):
            scaling.add_column(column, justify="right")
        for r in steps:
            scaling.add_row(
                str(r.replicas),
                f"{r.rate:.0f}",
                f"{r.lifecycles / r.seconds:.2f}",
                f"{r.rate / steps[0].rate:.2f}",
                f"{r.cores_busy:.2f} ({r.cores_measured:.2f})",
            )
        console.print(scaling)
    for r in [r for r in runs if r.kind == PROFILED]:
        profile_tables(r)
    targets_table(runs)


CPU_TARGET_US = 300  # per consumed message, every service
RATIO_TARGET = 0.7  # throughput against the batching relay
P99_TARGET = 2.0  # hop p99 at half load against the relay's at the same rate
REPLICAS_TARGET = 1.2  # database commands and CPU per message at the most replicas against 1


def targets(runs: list[Run]) -> list[tuple[str, str, bool | None]]:
    """Each target of the bench: what it asks, what this run measured, and whether it is met (None: not
    measured by this run)."""
    closed, _, ratio = closed_loop(runs)
    cpu = {s: statistics.median(r.cpu_us_per_message[s] for r in closed) for s in CONSUMED}
    found: list[tuple[str, str, bool | None]] = [
        (
            f"CPU per consumed message ≤ {CPU_TARGET_US} µs, every service",
            ", ".join(f"{s} {c:,.0f}" for s, c in cpu.items()),
            max(cpu.values()) <= CPU_TARGET_US,
        ),
        (f"throughput ≥ {RATIO_TARGET} × the batching relay", f"{ratio:.2f}", ratio >= RATIO_TARGET),
    ]
    open_loop = [r for r in runs if r.offered is not None]
    if len(open_loop) == 2:
        p99 = open_loop[0].hop_seconds["p99"] / open_loop[1].hop_seconds["p99"]
        found.append((f"hop p99 at half load ≤ {P99_TARGET} × the relay's", f"{p99:.2f}", p99 <= P99_TARGET))
    else:
        found.append((f"hop p99 at half load ≤ {P99_TARGET} × the relay's", "not run", None))
    steps = sorted((r for r in runs if r.kind == "scaling"), key=lambda r: r.replicas)
    if len(steps) > 1 and steps[0].replicas == 1:
        one, most = steps[0], steps[-1]
        commands = (most.database_commands / most.messages) / (one.database_commands / one.messages)
        used = sum(most.cpu_us_per_message[s] for s in CONSUMED) / sum(
            one.cpu_us_per_message[s] for s in CONSUMED
        )
        found.append(
            (
                f"commands and CPU per message at {most.replicas} replicas ≤ {REPLICAS_TARGET} × at 1",
                f"commands {commands:.2f} ×, CPU {used:.2f} ×",
                max(commands, used) <= REPLICAS_TARGET,
            )
        )
    else:
        found.append(
            (f"commands and CPU per message at N replicas ≤ {REPLICAS_TARGET} × at 1", "not run", None)
        )
    return found


def profile_tables(run: Run) -> None:
    """Where each service's CPU went in a profiled run: the costliest functions by self time (the frame
    the interpreter was in) and by Envol time (the innermost frame of Envol's own code)."""
    for name, profile in run.profiles.items():
        table = Table(
            title=f"Where {name}'s CPU goes ({profile.samples:,} samples, {run.lifecycles} lifecycles)"
        )
        for column in ("by self time", "%", "by Envol function", "%"):
            table.add_column(column, justify="right" if column == "%" else "left")
        share = 100 / max(profile.samples, 1)
        for (own, n), (ours, m) in itertools.zip_longest(
            profile.by_self, profile.by_envol, fillvalue=("", 0)
        ):
            table.add_row(own, f"{n * share:.1f}" if own else "", ours, f"{m * share:.1f}" if ours else "")
        terminal().print(table)


def targets_table(runs: list[Run]) -> None:
    table = Table(title="Targets")
    for column in ("target", "measured", "met"):
        table.add_column(column)
    for target, measured, met in targets(runs):
        table.add_row(
            target, measured, "not measured" if met is None else "met" if met else "[bold]missed[/]"
        )
    terminal().print(table)


def observability_table(observed: dict[str, list[Run]]) -> None:
    """What metrics, then tracing, cost: throughput and CPU per consumed message against both off."""
    table = Table(title="What metrics and tracing cost (medians of the pairs' runs)")
    for column in ("run", "lifecycles/s", "vs off", *(f"{s} µs/msg" for s in CONSUMED), "all µs/msg"):
        table.add_column(column, justify="right")
    names = {
        BARE: "metrics and tracing off",
        "system": "metrics on (default)",
        TRACED: "metrics and tracing on",
    }
    off = statistics.median(r.lifecycles / r.seconds for r in observed[BARE])
    for kind, group in observed.items():
        rate = statistics.median(r.lifecycles / r.seconds for r in group)
        cpu = [statistics.median(r.cpu_us_per_message[s] for r in group) for s in CONSUMED]
        whole = statistics.median(
            sum(r.cpu_us_per_message[s] * r.messages for s in CONSUMED) / r.messages for r in group
        )
        table.add_row(
            names[kind], f"{rate:.2f}", f"{rate / off:.2f}", *(f"{c:.0f}" for c in cpu), f"{whole:.0f}"
        )
    terminal().print(table)


if __name__ == "__main__":
    typer.run(bench)
