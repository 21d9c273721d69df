"""`envol`: the operators' command-line tool — watch topics, follow a volunteer, count stages."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table
from rich.text import Text

from services.cli.audit import Report, audit
from services.cli.dlq import dlq
from services.cli.docs import write
from services.cli.erase import erase, erasure
from services.cli.failures import EXIT_CODES, ExitCode, ending, settings_or_none
from services.cli.kubernetes import write as write_kubernetes
from services.cli.lag import lag_by_partition
from services.cli.output import console as terminal
from services.cli.output import print_json, short_topic, shown
from services.cli.reading import Seen, first_copies, read, read_all, run_showing_progress
from services.cli.stages import ERASED, HIDDEN, application_of, count_by_stage, stage_name, summary
from services.console.snapshots import current_view
from services.console.view import Step, step_of
from shared.settings import Settings

cli = typer.Typer(help="Operate Envol: watch topics, follow a volunteer, see where everyone stands.")
cli.add_typer(dlq, name="dlq")
cli.add_typer(erasure, name="erasure")
cli.command()(erase)


def _version(asked: bool) -> None:
    if asked:
        print(f"envol {metadata.version('envol')}")
        raise typer.Exit()


# Where the tools connect: each option overrides its environment variable (the same the services read).
# Passwords are never options (they would show in the process list): KAFKA_PASSWORD, MONGODB_PASSWORD, or
# the local stack's files (ENVOL_KAFKA_PASSWORDS, ENVOL_MONGODB_PASSWORDS).
CONNECTION = {
    "bootstrap_servers": ("KAFKA_BOOTSTRAP_SERVERS", "The Kafka brokers, host:port[,host:port…]"),
    "security_protocol": ("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    "kafka_username": ("KAFKA_USERNAME", "The Kafka principal (an operator's: operator)"),
    "mongodb_url": ("MONGODB_URL", "The MongoDB server, mongodb://host:port/"),
    "mongodb_username": ("MONGODB_USERNAME", "The database user (an operator's: auditor)"),
}


def _connection_option(name: str) -> Any:
    variable, help_text = CONNECTION[name]
    return typer.Option(f"--{name.replace('_', '-')}", envvar=variable, show_envvar=True, help=help_text)


@cli.callback(
    epilog="Passwords come from KAFKA_PASSWORD and MONGODB_PASSWORD (or the local stack's files).\n\n"
    + EXIT_CODES
)
def options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
    bootstrap_servers: Annotated[str | None, _connection_option("bootstrap_servers")] = None,
    security_protocol: Annotated[str | None, _connection_option("security_protocol")] = None,
    kafka_username: Annotated[str | None, _connection_option("kafka_username")] = None,
    mongodb_url: Annotated[str | None, _connection_option("mongodb_url")] = None,
    mongodb_username: Annotated[str | None, _connection_option("mongodb_username")] = None,
) -> None:
    """Operate Envol: watch topics, follow a volunteer, see where everyone stands."""
    given = {
        "bootstrap_servers": bootstrap_servers,
        "security_protocol": security_protocol,
        "kafka_username": kafka_username,
        "mongodb_url": mongodb_url,
        "mongodb_username": mongodb_username,
    }
    for name, value in given.items():
        if value:
            os.environ[CONNECTION[name][0]] = value  # Settings.from_env reads them, as the services do


console = terminal()


SENSITIVE = typer.Option("--sensitive", help="Show health, screening and visa outcomes and reasons")
JSON = typer.Option("--json", help="Print JSON for scripts instead of a table")


def as_json(seen: Seen, sensitive: bool) -> dict[str, Any]:
    """What a script gets of one event: where it was, what it is, the operator's summary (no more)."""
    event = seen.event
    return {
        "time": seen.timestamp,
        "topic": seen.topic,
        "partition": seen.partition,
        "offset": seen.offset,
        "event_type": event.event_type if event else None,
        "subject_id": event.subject_id if event else None,
        "details": summary(event, sensitive=sensitive) if event else None,
    }


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
    json_lines: Annotated[bool, typer.Option("--json", help="Print one JSON object per event")] = False,
) -> None:
    """Print events live as the services write them (Ctrl-C to stop)."""

    async def follow() -> None:
        async for seen in read(Settings.from_env(), follow=True):
            event = seen.event
            if volunteer and (event is None or event.subject_id != volunteer):
                continue
            if event_type and (event is None or event.event_type != event_type):
                continue
            if json_lines:
                print_json(as_json(seen, sensitive))
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
    json_output: Annotated[bool, JSON] = False,
    copies: Annotated[
        bool,
        typer.Option("--copies", help="Show every copy of an event published again, not its first alone"),
    ] = False,
) -> None:
    """Show one volunteer's events across the four services, in order, each once (exit 1 when there is
    none): from the operators' read model, so what retention deleted still shows; with --sensitive or
    --copies, which it does not keep, from the topics (what retention kept)."""
    settings = Settings.from_env()
    if not (sensitive or copies):
        view, _problem = run_showing_progress(current_view(settings))
        steps = view.timeline_of(volunteer)
        if view.unattributed:  # applications it cannot tell the volunteer of: theirs come from the topics
            known: set[str | None] = set(view.applications_of(volunteer))
            read = first_copies(run_showing_progress(read_all(settings)))
            theirs = [s for s in read if s.event and s.event.subject_id == volunteer]
            steps += [step_of(s) for s in theirs if s.event and application_of(s.event) not in known]
        _print_steps(volunteer, sorted(steps, key=lambda step: step.at), json_output)
        return
    everything = run_showing_progress(read_all(settings))
    seen = [s for s in everything if s.event and s.event.subject_id == volunteer]
    seen = seen if copies else first_copies(seen)
    _print_timeline(volunteer, [as_json(item, sensitive) for item in seen], json_output)


def _print_steps(volunteer: str, steps: list[Step], json_output: bool) -> None:
    """A timeline's lines, as the read model keeps them: no partition or offset, no sensitive detail."""
    rows = [
        {"time": step.at, "topic": f"envol.{step.topic}", "partition": None, "offset": None,
         "event_type": step.event_type, "subject_id": volunteer,
         "details": step.detail.replace("(hidden)", HIDDEN)}
        for step in steps
    ]  # fmt: skip
    _print_timeline(volunteer, rows, json_output)


def _print_timeline(volunteer: str, rows: list[dict[str, Any]], json_output: bool) -> None:
    """Print a volunteer's timeline (`as_json`'s rows), as JSON or a table; exit 1 when it is empty."""
    if json_output:
        print_json(rows)
        raise typer.Exit(ExitCode.OK if rows else ExitCode.FAILED)
    if not rows:
        console.print(Text("no event about ") + shown(volunteer))
        raise typer.Exit(ExitCode.FAILED)
    table = _table(Text("Timeline of ") + shown(volunteer))
    for row in rows:
        at, topic = row["time"].strftime("%H:%M:%S.%f")[:-3], short_topic(row["topic"])
        table.add_row(
            at, shown(topic), shown(row["event_type"]), shown(row["subject_id"]), shown(row["details"])
        )
    console.print(table)


@cli.command()
def status(json_output: Annotated[bool, JSON] = False) -> None:
    """Count applications at each stage of the lifecycle (from the operators' read model: the console's
    latest snapshot and the records since, so what retention deleted still counts)."""
    view, problem = run_showing_progress(current_view(Settings.from_env()))
    if problem:
        alone = "counted from the topics alone, without what retention deleted"
        print(f"envol: {problem}: {alone}", file=sys.stderr)
    erased = {ERASED: sum(view.erased.values())} if view.erased else {}
    counts = count_by_stage(view.stages) | erased
    if json_output:
        print_json(
            {"stages": {stage_name(stage): n for stage, n in counts.items()}, "total": sum(counts.values())}
        )
        return
    table = Table(title="Applications by stage")
    table.add_column("stage")
    table.add_column("applications", justify="right")
    for stage, count in counts.items():
        table.add_row(stage_name(stage), str(count))
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


@cli.command()
def lag(json_output: Annotated[bool, JSON] = False) -> None:
    """Show how far each service's consumer group is behind, per topic and partition."""
    rows = asyncio.run(lag_by_partition(Settings.from_env()))
    if json_output:
        print_json([msgspec.to_builtins(row) | {"lag": row.lag} for row in rows])
        return
    table = Table(title=f"Consumer lag: {sum(row.lag for row in rows)} messages behind")
    for column in ("service", "topic", "partition", "committed", "end", "lag"):
        table.add_column(column, justify="left" if column in ("service", "topic") else "right")
    for row in rows:
        committed = str(row.committed) if row.committed >= 0 else "none"
        style = "yellow" if row.lag else ""
        table.add_row(row.service, short_topic(row.topic), str(row.partition), committed, str(row.end),
                      Text(str(row.lag), style=style))  # fmt: skip
    console.print(table)


@cli.command("console")
def console_command(
    host: Annotated[
        str,
        typer.Option(
            envvar="ENVOL_CONSOLE_HOST",
            show_envvar=True,
            help="The address to serve on (only this machine by default)",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="ENVOL_CONSOLE_PORT", show_envvar=True)] = 8090,
) -> None:
    """Serve the operators' web console: volunteers per stage, timelines, openings, lag, dead letters and
    their replay, updated live. Operators sign in with the passwords of ENVOL_CONSOLE_PASSWORDS
    (`<name> <password>` lines); it refuses to start without them."""
    from services.console.__main__ import main as serve

    os.environ["ENVOL_HTTP_HOST"], os.environ["ENVOL_HTTP_PORT"] = host, str(port)
    terminal().print(f"Envol console on http://{host}:{port}/")
    serve()


@cli.command("audit")
def audit_command(json_output: Annotated[bool, JSON] = False) -> None:
    """Check the invariants on every topic and store: outcomes once, order, seats, privacy, dead letters
    (exit 1 when one is broken)."""
    report = run_showing_progress(audit(Settings.from_env()))
    if json_output:
        print_json({"ok": report.ok, **msgspec.to_builtins(report)})
    else:
        print_report(report)
    if not report.ok:
        raise typer.Exit(ExitCode.FAILED)


def print_report(report: Report) -> None:
    """Print an audit report as a table."""
    since = f" since {report.since:%Y-%m-%d %H:%M:%S}" if report.since else ""
    missed = (
        f"; {report.missed} records deleted before the read model folded them (retention, an erasure): "
        "not audited"
        if report.missed
        else ""
    )
    title = f"Audit: {report.records} records{since}, {report.applications} applications{missed}"
    table = Table(title=title)
    for column in ("check", "verdict", "figures"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        verdict = Text("holds", style="green") if check.ok else Text("BROKEN", style="red")
        table.add_row(shown(check.name), verdict, shown(check.detail))
    console.print(table)


def main() -> None:
    """Entry point of the `envol` console script: a setting that is wrong, or a server that cannot be
    reached, ends the command with one line saying which, and an exit code of its own (services.cli.failures:
    3 and 4), never a traceback."""
    try:
        cli()
    except Exception as error:
        ended = ending(error, settings_or_none())
        if ended is None:
            raise  # a bug: its traceback is the report
        print(f"envol: {ended.line}", file=sys.stderr)
        raise SystemExit(ended.code) from None
