"""Load the demo data: `python -m services.simulator` plays the outside systems for the demo cast."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import time
from pathlib import Path

import msgspec
import typer
from rich.progress import Progress, TextColumn
from rich.table import Table

from services.cli.app import print_report
from services.cli.output import console as terminal
from services.cli.stages import stage_name
from services.simulator import chaos as chaos_runs
from services.simulator.demo import cast, publications
from services.simulator.latency import percentiles
from services.simulator.load import load_openings, load_personas
from services.simulator.play import play
from shared.settings import Settings

simulator = typer.Typer(help="Play the outside systems: the demo cast, or a load of lifecycles.")


@simulator.command()
def demo(seconds: float = typer.Option(180.0, help="Give up after this many seconds")) -> None:
    """Send the demo cast's facts, answer as the outside systems would, and show where each volunteer ends."""
    now = dt.datetime.now(dt.UTC)
    run = f"demo{now:%H%M%S}"
    personas = cast(run, now.date(), now)
    outcome = asyncio.run(play(Settings.from_env(), publications(run, now.date()), personas, seconds=seconds))
    reached = {
        p.application.application_id: outcome.reached.get(p.application.application_id, "- none")
        for p in personas
    }
    table = Table(title=f"Demo volunteers ({run})")
    for column in ("volunteer", "scheme", "expected", "reached"):
        table.add_column(column, no_wrap=True)
    for persona in personas:
        application = persona.application
        got = reached[application.application_id]
        mark = "[green]✓[/]" if got == persona.expected_stage else "[red]✗[/]"
        table.add_row(
            application.subject_id, application.wishes.scheme.value, stage_name(persona.expected_stage),
            f"{stage_name(got)} {mark}",
        )  # fmt: skip
    console = terminal()
    console.print(table)
    console.print(
        f'One volunteer\'s journey: make envol ARGS="timeline {personas[1].application.subject_id}"'
    )
    if any(reached[p.application.application_id] != p.expected_stage for p in personas):
        raise typer.Exit(1)


@simulator.command()
def load(
    lifecycles: int = typer.Option(500, "--lifecycles", "-n", help="How many complete lifecycles"),
    rate: float | None = typer.Option(None, help="New lifecycles per second (default: all at once)"),
    seconds: float = typer.Option(1800.0, help="Give up after this many seconds"),
) -> None:
    """Drive N complete lifecycles through the running services and report throughput and latency."""
    settings, now = Settings.from_env(), dt.datetime.now(dt.UTC)
    run = f"load{now:%H%M%S}"
    personas = load_personas(run, lifecycles)
    started = time.monotonic()
    with Progress(*Progress.get_default_columns(), TextColumn("{task.completed}/{task.total}")) as bar:
        task = bar.add_task("lifecycles", total=lifecycles)
        outcome = asyncio.run(
            play(settings, load_openings(run, lifecycles, now.date()), personas, seconds=seconds, rate=rate,
                 progress=lambda done, _: bar.update(task, completed=done))
        )  # fmt: skip
    elapsed = time.monotonic() - started
    done = len(outcome.finished)
    latency = percentiles(outcome.latencies()) or dict.fromkeys(("p50", "p95", "p99"), 0.0)
    terminal().print(
        f"{done}/{lifecycles} lifecycles in {elapsed:.1f}s: {done / elapsed:.1f} lifecycles/s, "
        f"{outcome.events / elapsed:.0f} service events/s; latency p50 {latency['p50']:.2f}s "
        f"p95 {latency['p95']:.2f}s p99 {latency['p99']:.2f}s"
    )
    if done < lifecycles:
        raise typer.Exit(1)


@simulator.command()
def chaos(
    scenario: str = typer.Argument(
        help="kill | restart-kafka | restart-ferretdb | poison | race | leader-kill (on the 3-broker cluster)"
    ),
    lifecycles: int = typer.Option(
        500, "--lifecycles", "-n", help="Lifecycles under load (race: candidates)"
    ),
    bad: int = typer.Option(10_000, help="poison: how many bad inputs"),
    seats: int = typer.Option(25, help="race: seats of the one opening"),
) -> None:
    """Run one fault scenario against the servers of the environment, with the services started here."""
    base = Settings.from_env()
    run = f"chaos{dt.datetime.now(dt.UTC):%H%M%S}"
    settings = msgspec.structs.replace(base, namespace=run, database_prefix=run)
    logs = Path(".local-infra") / "chaos" / run
    logs.mkdir(parents=True, exist_ok=True)

    async def go() -> chaos_runs.Result:
        processes = await chaos_runs.prepare(settings, logs)
        try:
            if scenario == "kill":
                return await chaos_runs.kill_services(settings, processes, lifecycles)
            if scenario in ("restart-kafka", "restart-ferretdb"):
                server = scenario.removeprefix("restart-")
                return await chaos_runs.restart_server(settings, server, lifecycles, dict(os.environ))
            if scenario == "leader-kill":
                return await chaos_runs.kill_leader(settings, lifecycles)
            if scenario == "poison":
                return await chaos_runs.poison(settings, lifecycles, bad)
            if scenario == "race":
                return await chaos_runs.race(settings, processes, lifecycles, seats)
            raise typer.BadParameter(f"unknown scenario {scenario}")
        finally:
            processes.stop()

    result = asyncio.run(go())
    (logs / "result.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    recovery = result.recovery_seconds
    recovered = (
        f"recovery median {statistics.median(recovery):.1f} s, max {max(recovery):.1f} s"
        if len(recovery) > 4
        else f"recovery {[round(r, 1) for r in recovery]} s"
    )
    terminal().print(
        f"[bold]{result.scenario}[/]: {result.completed}/{result.expected} in {result.seconds:.0f}s, "
        f"{result.faults} faults, {recovered} (logs and result.json: {logs})"
    )
    print_report(result.report)
    if not result.ok:
        raise typer.Exit(1)


if __name__ == "__main__":
    simulator()
