"""Load the demo data: `python -m services.simulator` plays the outside systems for the demo cast."""

from __future__ import annotations

import asyncio
import datetime as dt

import typer
from rich.console import Console
from rich.table import Table

from services.simulator.demo import cast, publications
from services.simulator.play import play
from shared.settings import Settings


def demo(seconds: float = typer.Option(180.0, help="Give up after this many seconds")) -> None:
    """Send the demo cast's facts, answer as the outside systems would, and show where each volunteer ends."""
    now = dt.datetime.now(dt.UTC)
    run = f"demo{now:%H%M%S}"
    personas = cast(run, now.date(), now)
    reached = asyncio.run(play(Settings.from_env(), publications(run, now.date()), personas, seconds=seconds))
    table = Table(title=f"Demo volunteers ({run})")
    for column in ("volunteer", "scheme", "country", "expected", "reached"):
        table.add_column(column)
    for persona in personas:
        application = persona.application
        got = reached[application.application_id]
        mark = "[green]✓[/]" if got == persona.expected_stage else "[red]✗[/]"
        table.add_row(
            application.subject_id, application.wishes.scheme.value, application.wishes.country,
            persona.expected_stage[2:], f"{got[2:]} {mark}",
        )  # fmt: skip
    Console().print(table)
    if any(reached[p.application.application_id] != p.expected_stage for p in personas):
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(demo)
