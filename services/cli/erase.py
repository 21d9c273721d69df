"""`envol erase` and `envol erasure status`: a volunteer's erasure, carried out and followed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table
from rich.text import Text

from services.cli.erasure import Purge, Status, erase_everywhere, purge, scan, status
from services.cli.failures import ExitCode
from services.cli.output import console as terminal
from services.cli.output import print_json, short_topic, shown
from services.cli.reading import run_showing_progress
from shared.settings import Settings

erasure = typer.Typer(help="Follow volunteers' erasures.")
console = terminal()
JSON = typer.Option("--json", help="Print JSON for scripts instead of a table")
VOLUNTEER = typer.Argument(help="The volunteer's id (the events' subject)")


def status_json(found: Status) -> dict[str, Any]:
    return {**msgspec.to_builtins(found), "done": found.done}


def print_status(found: Status) -> None:
    verdict = Text("done", style="green") if found.done else Text("not done", style="yellow")
    asked = "requested" if found.requested else "not requested"
    table = Table(title=Text("Erasure of ") + shown(found.volunteer_id) + Text(f": {asked}, ") + verdict)
    for column in ("service", "tombstones", "still holding data"):
        table.add_column(column, overflow="fold")
    for service in found.services:
        table.add_row(service.service, shown(", ".join(service.erased) or "-"),
                      Text(", ".join(service.kept) or "-", style="red" if service.kept else ""))  # fmt: skip
    console.print(table)


def print_purge(done: Purge) -> None:
    table = Table(title=f"Topics: {len(done.cuts)} partitions cut, {done.rewritten} other dead letters kept")
    for column in ("topic", "partition", "starts at", "theirs", "others'"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for cut in done.cuts:
        table.add_row(short_topic(cut.topic), str(cut.partition), str(cut.before), str(cut.theirs),
                      str(cut.others))  # fmt: skip
    console.print(table)
    for waiting in done.waiting:
        console.print(Text("not cut, not consumed yet: ") + shown(waiting))
    if done.left:
        console.print(f"{done.left} records about them written since the scan: run it again")


def erase(
    volunteer: Annotated[str, VOLUNTEER],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each step")] = 120.0,
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """Erase a volunteer's personal data everywhere: ask every service to erase it (their aggregates become
    tombstones, their seats are released, partners are told), then delete the records the topics still
    hold about them. Irreversible. Exit 1 when a step did not finish in time: run it again to finish."""
    if not yes:
        typer.confirm(f"Erase every personal data of {volunteer}, for good?", abort=True)
    settings = Settings.from_env()
    known = asyncio.run(status(settings, volunteer))
    if not known.applications and not known.requested:  # a typo, or a word found in every record
        typer.echo(f"envol: no application of {volunteer!r} is known: nothing to erase", err=True)
        raise typer.Exit(ExitCode.FAILED)
    started = time.monotonic()
    waiting = console.status("waiting for the four services' erasure") if not json_output else None
    with waiting or contextlib.nullcontext():
        found, told = asyncio.run(erase_everywhere(settings, volunteer, timeout))
    erased_in = time.monotonic() - started
    # tombstones everywhere: cut, whether or not each service's news was seen (a run cut short, or a later
    # application's news only); what a service sends after the cut is counted by the scan that follows
    done = asyncio.run(purge(settings, volunteer, timeout)) if found.done else Purge([], 0, ["services"])
    finished = found.done and not done.waiting and not done.left
    if json_output:
        print_json({"status": status_json(found), "told": told, "purge": done,
                    "erased_seconds": round(erased_in, 3), "done": finished})  # fmt: skip
    else:
        print_status(found)
        if found.done:
            print_purge(done)
        console.print(
            f"erased by the services in {erased_in:.1f} s; "
            + ("done" if finished else "NOT DONE: run it again")
        )
    if not finished:
        raise typer.Exit(ExitCode.FAILED)


@erasure.command("status")
def erasure_status(volunteer: Annotated[str, VOLUNTEER], json_output: Annotated[bool, JSON] = False) -> None:
    """Show where a volunteer's erasure stands: each service's tombstones and what still holds their data,
    and the records about them left on the topics (exit 1 unless it is done and none is left)."""
    settings = Settings.from_env()
    found = asyncio.run(status(settings, volunteer))
    left = run_showing_progress(scan(settings, volunteer, set(found.placements))).theirs
    if json_output:
        print_json({**status_json(found), "records_on_topics": left})
    else:
        print_status(found)
        console.print(f"records about {volunteer} left on the topics: {left}")
    if not found.done or left:
        raise typer.Exit(ExitCode.FAILED)
