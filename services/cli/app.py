"""`envol`: the operators' command-line tool — watch topics, follow a volunteer, count stages."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from services.cli.audit import Report, audit
from services.cli.deadletters import DeadLetter, dead_letters, replay
from services.cli.docs import write
from services.cli.output import console as terminal
from services.cli.output import shown
from services.cli.reading import Seen, read, read_all
from services.cli.stages import count_by_stage, stages, summary
from shared.settings import Settings

cli = typer.Typer(help="Operate Envol: watch topics, follow a volunteer, see where everyone stands.")
console = terminal()


def _short(topic: str) -> str:
    return topic.removeprefix("envol.")


def _row(table: Table, seen: Seen) -> None:
    event = seen.event
    table.add_row(
        seen.timestamp.strftime("%H:%M:%S.%f")[:-3],
        shown(_short(seen.topic)),
        shown(event.event_type) if event else Text("(undecodable)", style="dim"),
        shown(event.subject_id if event else ""),
        shown(summary(event) if event else ""),
    )


def _table(title: Text) -> Table:
    table = Table(title=title, expand=True)
    for column in ("time", "topic", "event", "subject", "details"):
        table.add_column(column, overflow="fold")
    return table


@cli.command()
def watch(
    volunteer: Annotated[str | None, typer.Option(help="Only this volunteer (subject id)")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Only this event type")] = None,
) -> None:
    """Print events live as the services write them (Ctrl-C to stop)."""

    async def follow() -> None:
        async for seen in read(Settings.from_env(), follow=True):
            event = seen.event
            if volunteer and (event is None or event.subject_id != volunteer):
                continue
            if event_type and (event is None or event.event_type != event_type):
                continue
            console.print(
                Text(seen.timestamp.strftime("%H:%M:%S")),
                shown(_short(seen.topic), "cyan"),
                shown(event.event_type, "bold") if event else Text("(undecodable)", style="dim"),
                shown(event.subject_id if event else "-"),
                shown(summary(event) if event else ""),
            )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())


@cli.command()
def timeline(
    volunteer: Annotated[str, typer.Argument(help="The volunteer's id (the events' subject)")],
) -> None:
    """Show one volunteer's events across the four services, in order."""
    seen = [
        s for s in asyncio.run(read_all(Settings.from_env())) if s.event and s.event.subject_id == volunteer
    ]
    if not seen:
        console.print(Text("no event about ") + shown(volunteer))
        raise typer.Exit(1)
    table = _table(Text("Timeline of ") + shown(volunteer))
    for item in seen:
        _row(table, item)
    console.print(table)


@cli.command()
def status() -> None:
    """Count applications at each stage of the lifecycle."""
    events = [s.event for s in asyncio.run(read_all(Settings.from_env())) if s.event]
    counts = count_by_stage(stages(events))
    table = Table(title="Applications by stage")
    table.add_column("stage")
    table.add_column("applications", justify="right")
    for stage, count in counts.items():
        table.add_row(stage[2:], str(count))
    table.add_row("[bold]total[/]", f"[bold]{sum(counts.values())}[/]")
    console.print(table)


@cli.command()
def docs(folder: Annotated[Path, typer.Argument(help="Where to write the documents")] = Path("docs")) -> None:
    """Write the JSON Schema of every topic and the AsyncAPI document of every service."""
    for path in write(folder):
        console.print(Text("wrote ") + shown(path))


@cli.command("audit")
def audit_command() -> None:
    """Check the invariants on every topic and store: outcomes once, order, seats, privacy, dead letters."""
    report = asyncio.run(audit(Settings.from_env()))
    print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def print_report(report: Report) -> None:
    """Print an audit report as a table."""
    table = Table(title=f"Audit: {report.records} records, {report.applications} applications")
    for column in ("check", "verdict", "figures"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        verdict = Text("holds", style="green") if check.ok else Text("BROKEN", style="red")
        table.add_row(shown(check.name), verdict, shown(check.detail))
    console.print(table)


dlq = typer.Typer(help="Inspect and replay the dead-letter topic.")
cli.add_typer(dlq, name="dlq")


@dlq.command("list")
def dlq_list(error_class: Annotated[str | None, typer.Option(help="Only this error class")] = None) -> None:
    """List the messages set aside: where they came from and why."""
    letters = [
        d
        for d in asyncio.run(dead_letters(Settings.from_env()))
        if not error_class or d.error_class == error_class
    ]
    table = Table(title=f"{len(letters)} dead letters")
    for column in ("position", "origin", "error", "reason", "bytes"):
        table.add_column(column, overflow="fold")
    for d in letters:
        origin = f"{_short(d.origin_topic)} {d.origin_position}"
        table.add_row(
            shown(d.position), shown(origin), shown(d.error_class), shown(d.reason), str(len(d.value))
        )
    console.print(table)


@dlq.command("show")
def dlq_show(
    position: Annotated[str, typer.Argument(help="PARTITION:OFFSET, as `dlq list` shows it")],
) -> None:
    """Show one dead letter's headers and original bytes (operators only: it may hold personal data)."""
    letter = _find(position)
    for name, value in letter.headers.items():
        console.print(shown(name, "bold") + Text(": ") + shown(value))
    console.print(Text("key", style="bold") + Text(": ") + shown(repr(letter.key)))
    console.print(shown(letter.value.decode(errors="replace")[:4000], lines=True))


@dlq.command("replay")
def dlq_replay(
    positions: Annotated[list[str] | None, typer.Argument(help="PARTITION:OFFSET of each letter")] = None,
    error_class: Annotated[str | None, typer.Option(help="Replay every letter of this error class")] = None,
) -> None:
    """Send dead letters back to the topic they came from, with their key (after the cause is fixed)."""
    settings = Settings.from_env()
    letters = asyncio.run(dead_letters(settings))
    chosen = [
        d
        for d in letters
        if d.position in (positions or []) or (error_class and d.error_class == error_class)
    ]
    if not chosen:
        console.print("nothing to replay")
        raise typer.Exit(1)
    console.print(f"replayed {asyncio.run(replay(settings, chosen))} messages")


def _find(position: str) -> DeadLetter:
    for letter in asyncio.run(dead_letters(Settings.from_env())):
        if letter.position == position:
            return letter
    console.print(Text("no dead letter at ") + shown(position))
    raise typer.Exit(1)


def main() -> None:
    """Entry point of the `envol` console script."""
    cli()
