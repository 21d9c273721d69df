"""`envol`: the operators' command-line tool — watch topics, follow a volunteer, count stages."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError
from rich.table import Table
from rich.text import Text

from services.cli.audit import Report, audit
from services.cli.dlq import dlq
from services.cli.docs import write
from services.cli.kubernetes import write as write_kubernetes
from services.cli.output import console as terminal
from services.cli.output import short_topic, shown
from services.cli.reading import Seen, read, read_all
from services.cli.stages import count_by_stage, stages, summary
from shared.settings import Settings, without_password

cli = typer.Typer(help="Operate Envol: watch topics, follow a volunteer, see where everyone stands.")
cli.add_typer(dlq, name="dlq")


def _version(asked: bool) -> None:
    if asked:
        print(f"envol {metadata.version('envol')}")
        raise typer.Exit()


@cli.callback()
def options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """Operate Envol: watch topics, follow a volunteer, see where everyone stands."""


console = terminal()


SENSITIVE = typer.Option("--sensitive", help="Show health, screening and visa outcomes and reasons")


def _row(table: Table, seen: Seen, sensitive: bool) -> None:
    event = seen.event
    table.add_row(
        seen.timestamp.strftime("%H:%M:%S.%f")[:-3],
        shown(short_topic(seen.topic)),
        shown(event.event_type) if event else Text("(undecodable)", style="dim"),
        shown(event.subject_id if event else ""),
        shown(summary(event, sensitive=sensitive) if event else ""),
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
    sensitive: Annotated[bool, SENSITIVE] = False,
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
                shown(short_topic(seen.topic), "cyan"),
                shown(event.event_type, "bold") if event else Text("(undecodable)", style="dim"),
                shown(event.subject_id if event else "-"),
                shown(summary(event, sensitive=sensitive) if event else ""),
            )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())


@cli.command()
def timeline(
    volunteer: Annotated[str, typer.Argument(help="The volunteer's id (the events' subject)")],
    sensitive: Annotated[bool, SENSITIVE] = False,
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
        _row(table, item, sensitive)
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


@cli.command()
def kubernetes(
    folder: Annotated[Path, typer.Argument(help="The Kubernetes folder")] = Path("deploy/k8s"),
) -> None:
    """Write the Kubernetes resources generated from the topic, grants and roles tables."""
    for path in write_kubernetes(folder):
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


UNREACHABLE = (KafkaError, PyMongoError, ConnectionError, TimeoutError, ValueError)


def main() -> None:
    """Entry point of the `envol` console script: a server that cannot be reached, or a setting that is
    wrong, ends the command with one line saying which (exit 1), never a traceback."""
    try:
        cli()
    except UNREACHABLE as error:
        settings = Settings.from_env()
        where = f"Kafka {settings.kafka_bootstrap_servers}, MongoDB {without_password(settings.mongodb_url)}"
        message = str(error).splitlines()[0] if str(error) else ""
        print(f"envol: {type(error).__name__}: {message} ({where})", file=sys.stderr)
        raise SystemExit(1) from None
