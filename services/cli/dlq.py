"""`envol dlq`: list the dead letters, show one, replay some to the intake topic they came from."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from services.cli.deadletters import DeadLetter, Plan, dead_letters, plan, replay
from services.cli.failures import ExitCode
from services.cli.output import console as terminal
from services.cli.output import print_json, short_topic, shown
from services.cli.reading import run_showing_progress
from shared.settings import Settings

dlq = typer.Typer(help="Inspect and replay the dead-letter topic.")
console = terminal()


JSON = typer.Option("--json", help="Print JSON for scripts instead of a table")


def summary_of(letter: DeadLetter) -> dict[str, object]:
    """What `dlq list --json` gives of a letter: where it came from and why, not its bytes."""
    return {
        "position": letter.position,
        "origin_topic": letter.origin_topic,
        "origin_position": letter.origin_position,
        "error_class": letter.error_class,
        "reason": letter.reason,
        "bytes": len(letter.value),
    }


@dlq.command("list")
def dlq_list(
    error_class: Annotated[str | None, typer.Option(help="Only this error class")] = None,
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """List the messages set aside: where they came from and why."""
    letters = [
        d
        for d in run_showing_progress(dead_letters(Settings.from_env()))
        if not error_class or d.error_class == error_class
    ]
    if json_output:
        print_json([summary_of(d) for d in letters])
        return
    table = Table(title=f"{len(letters)} dead letters")
    for column in ("position", "origin", "error", "reason", "bytes"):
        table.add_column(column, overflow="fold")
    for d in letters:
        origin = f"{short_topic(d.origin_topic)} {d.origin_position}"
        table.add_row(
            shown(d.position), shown(origin), shown(d.error_class), shown(d.reason), str(len(d.value))
        )
    console.print(table)


@dlq.command("show")
def dlq_show(
    position: Annotated[str, typer.Argument(help="PARTITION:OFFSET, as `dlq list` shows it")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (key and value in base64)")] = False,
) -> None:
    """Show one dead letter's headers and original bytes (operators only: it may hold personal data)."""
    letter = _find(position)
    if json_output:
        print_json(summary_of(letter) | {"headers": letter.headers, "key": letter.key, "value": letter.value})
        return
    for name, value in letter.headers.items():
        console.print(shown(name, "bold") + Text(": ") + shown(value))
    console.print(Text("key", style="bold") + Text(": ") + shown(repr(letter.key)))
    console.print(shown(letter.value.decode(errors="replace")[:4000], lines=True))


@dlq.command("replay")
def dlq_replay(
    positions: Annotated[list[str] | None, typer.Argument(help="PARTITION:OFFSET of each letter")] = None,
    error_class: Annotated[str | None, typer.Option(help="Replay every letter of this error class")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be replayed and refused; write nothing")
    ] = False,
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """Send dead letters back to the intake topic they came from, with their key (after the cause is fixed).

    Only this namespace's intake topics are written to: a letter naming any other origin is refused and
    listed, the others are still replayed. Exits 1 when nothing was chosen or anything was refused.
    """
    settings = Settings.from_env()
    letters = run_showing_progress(dead_letters(settings))
    chosen = [
        d
        for d in letters
        if d.position in (positions or []) or (error_class and d.error_class == error_class)
    ]
    if not chosen:
        if json_output:
            print_json({"dry_run": dry_run, "replayed": [], "refused": []})
        else:
            console.print("nothing to replay")
        raise typer.Exit(ExitCode.FAILED)
    done = plan(settings, chosen) if dry_run else asyncio.run(replay(settings, chosen))
    if json_output:
        print_json(
            {
                "dry_run": dry_run,
                "replayed": [d.position for d in done.replayed],
                "refused": [{"position": d.position, "why": why} for d, why in done.refused],
            }
        )
    else:
        _print_plan(done, dry_run=dry_run)
    if done.refused:
        raise typer.Exit(ExitCode.FAILED)


def _print_plan(done: Plan, *, dry_run: bool) -> None:
    verb = "would replay" if dry_run else "replayed"
    table = Table(title=f"{verb} {len(done.replayed)}, refused {len(done.refused)}")
    for column in ("position", "origin", "verdict"):
        table.add_column(column, overflow="fold")
    for letter in done.replayed:
        table.add_row(shown(letter.position), shown(letter.origin_topic), Text(verb, style="green"))
    for letter, why in done.refused:
        table.add_row(shown(letter.position), shown(letter.origin_topic), shown(f"refused: {why}", "red"))
    console.print(table)
    console.print(
        f"{verb} {len(done.replayed)} messages" + (" (dry run: nothing written)" if dry_run else "")
    )


def _find(position: str) -> DeadLetter:
    for letter in run_showing_progress(dead_letters(Settings.from_env())):
        if letter.position == position:
            return letter
    console.print(Text("no dead letter at ") + shown(position))
    raise typer.Exit(ExitCode.FAILED)
