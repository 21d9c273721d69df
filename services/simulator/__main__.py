"""Load the demo data: `python -m services.simulator` plays the outside systems for the demo cast."""

from __future__ import annotations

import asyncio
import datetime as dt

import typer
from rich.table import Table

from services.cli.output import console as terminal
from services.simulator.demo import cast, publications
from services.simulator.play import play
from shared.settings import Settings


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
            application.subject_id, application.wishes.scheme.value, persona.expected_stage[2:],
            f"{got[2:]} {mark}",
        )  # fmt: skip
    console = terminal()
    console.print(table)
    console.print(f"One volunteer's journey: .venv/bin/envol timeline {personas[0].application.subject_id}")
    if any(reached[p.application.application_id] != p.expected_stage for p in personas):
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(demo)
