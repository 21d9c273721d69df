"""`make bench-long`: many lifecycles through the system side of `make bench`, closed loop, in rounds, to
see whether it slows down as its databases and topics grow; the audit judges the whole run at the end.

One namespace, the four services started once; each round plays `--round` complete lifecycles of their
own (new volunteers, new openings), all submitted at once, and the next starts when the round is done.
The report gives lifecycles/s over the first, middle and last tenth of the rounds, the databases' size, and
the audit's verdict.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import resource
import statistics
import time
from pathlib import Path

import msgspec
import typer
from rich.progress import Progress
from rich.table import Table

from services.cli.app import print_report
from services.cli.audit import audit
from services.cli.lag import settle
from services.cli.output import console as terminal
from services.simulator.bench import namespaced
from services.simulator.chaos import prepare
from services.simulator.load import load_openings, load_personas
from services.simulator.play import play
from services.simulator.processes import SERVICES
from shared.mongo import mongo_client
from shared.settings import Settings

STEADY = 0.9  # the last tenth of the rounds at least this fraction of the first tenth's lifecycles/s


class Round(msgspec.Struct):
    lifecycles: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.lifecycles / self.seconds


def tenths(rounds: list[Round]) -> dict[str, float]:
    """Lifecycles/s over the first, middle and last tenth of the rounds (at least one round each)."""
    size = max(1, len(rounds) // 10)
    middle = (len(rounds) - size) // 2

    def rate(part: list[Round]) -> float:
        return sum(r.lifecycles for r in part) / sum(r.seconds for r in part)

    return {
        "first": rate(rounds[:size]),
        "middle": rate(rounds[middle : middle + size]),
        "last": rate(rounds[-size:]),
    }


async def database_bytes(settings: Settings) -> int:
    """What the four services' databases take on the server (`dbStats`' storage size)."""
    client = mongo_client(settings, "envol-soak")
    try:
        sizes = [await client[settings.database(s)].command("dbStats") for s in SERVICES]
        return sum(int(s.get("storageSize") or s.get("dataSize") or 0) for s in sizes)
    finally:
        await client.close()


async def play_rounds(
    settings: Settings, lifecycles: int, per_round: int, logs: Path
) -> tuple[list[Round], dict[str, str]]:
    """Play every round on one set of services, then let them consume what is left; return the rounds and
    each application's expected stage."""
    processes = await prepare(settings, logs)
    rounds: list[Round] = []
    expected: dict[str, str] = {}
    try:
        with Progress() as bar:
            task = bar.add_task("lifecycles", total=lifecycles)
            for n in range(0, lifecycles, per_round):
                run = f"{settings.namespace}r{n // per_round}"
                count = min(per_round, lifecycles - n)
                personas = load_personas(run, count)
                started = time.monotonic()
                outcome = await play(
                    settings,
                    load_openings(run, count, dt.date.today()),
                    personas,
                    seconds=max(600.0, count * 3.0),
                )
                rounds.append(Round(len(outcome.finished), time.monotonic() - started))
                if len(outcome.finished) < count:
                    raise RuntimeError(
                        f"round {len(rounds)}: only {len(outcome.finished)}/{count} lifecycles completed"
                    )
                expected |= {p.application.application_id: p.expected_stage for p in personas}
                bar.advance(task, count)
        await settle(settings)  # what the last lifecycles still caused (a partner's update), consumed
    finally:
        processes.stop()
    return rounds, expected


def main(
    lifecycles: int = typer.Option(100_000, "--lifecycles", "-n", help="Lifecycles in all"),
    per_round: int = typer.Option(1_000, "--round", help="Lifecycles per round, submitted at once"),
    folder: str = typer.Option("bench-results", "--out", help="Where to write the JSON file"),
) -> None:
    """Run the rounds, print lifecycles/s over time and the databases' size, then audit the whole run; exit
    1 if the audit fails or the last tenth is slower than 0.9 × the first."""
    settings = namespaced(Settings.from_env(), "soak")
    out = Path(folder)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rounds, expected = asyncio.run(play_rounds(settings, lifecycles, per_round, out / "logs"))
    played = time.monotonic() - started
    size = asyncio.run(database_bytes(settings))
    rates = tenths(rounds)
    steady = rates["last"] >= STEADY * rates["first"]
    table = Table(title=f"Envol long run: {lifecycles:,} lifecycles in {len(rounds)} rounds of {per_round:,}")
    for column in ("", "lifecycles/s"):
        table.add_column(column, justify="right")
    for part, rate in rates.items():
        table.add_row(f"{part} tenth of the rounds", f"{rate:.2f}")
    table.add_row("median round", f"{statistics.median(r.rate for r in rounds):.2f}")
    table.add_row(
        f"last tenth ≥ {STEADY} × the first",
        f"{rates['last'] / rates['first']:.2f}: {'met' if steady else 'missed'}",
    )
    table.add_row("databases' size", f"{size / 2**20:,.1f} MiB")
    table.add_row("lifecycles played in", f"{played:,.0f} s")
    console = terminal()
    console.print(table)
    figures = {
        "at": dt.datetime.now(dt.UTC).isoformat(), "lifecycles": lifecycles, "per_round": per_round,
        "rounds": [msgspec.to_builtins(r) for r in rounds], "tenths": rates, "database_bytes": size,
    }  # fmt: skip
    path = out / f"soak-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(figures, indent=2))  # before the audit, which reads every topic whole
    audited = time.monotonic()
    report = asyncio.run(audit(settings, expected=expected))
    print_report(report)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux: the run's high mark
    figures |= {
        "audit_ok": report.ok, "records": report.records, "audit_seconds": time.monotonic() - audited,
        "peak_rss_mib": peak,
    }  # fmt: skip
    path.write_text(json.dumps(figures, indent=2))
    console.print(
        f"audited in {figures['audit_seconds']:,.0f} s (this process's peak: {peak:,.0f} MiB); wrote {path}"
    )
    if not (report.ok and steady):
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
