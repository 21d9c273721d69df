"""The terminal the tools print to, and the one way a value read from outside is shown on it.

Anything read from a topic, a header or a store is hostile until shown: printed as markup, `[/bold]` would
crash Rich and `[link=...]` would restyle the screen; printed raw, an escape sequence or a bidi override
(U+202E) would rewrite what the operator sees. `shown` returns a `Text` (never parsed as markup or emoji)
in which every such character is written as its escape, so the operator sees that it is there.
"""

from __future__ import annotations

import contextlib
import json
import sys
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

# Controls (C0, DEL, C1), format characters (bidi overrides and isolates, zero-width ones), lone
# surrogates (which stdout cannot encode), and the Unicode line and paragraph separators.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def console() -> Console:
    """Return a console that keeps tables readable when not writing to a terminal."""
    return Console(width=None if sys.stdout.isatty() else 120)


@contextlib.contextmanager
def progress_bar(what: str, screen: Console | None = None) -> Iterator[Callable[[int, int], None] | None]:
    """Show `what` with a bar of (done, total) on stderr while the block runs, and yield the function that
    moves it; yield None and show nothing when stderr is no terminal (a script's, a test's). Never on
    stdout, which `--json` keeps for the script. The bar is gone once done: the command's output follows."""
    screen = screen or Console(stderr=True)
    if not screen.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=screen, transient=True) as bar:
        task = bar.add_task(what, total=None)  # pulsing until the scan knows how much there is to read
        yield lambda done, total: bar.update(task, completed=done, total=total)


def print_json(data: Any) -> None:
    """Print `data` as one line of JSON for a script: every non-ASCII character escaped (`\\u00e9`), so no
    control, bidi or escape character read from outside ever reaches the terminal as itself; bytes as
    base64, dates as ISO 8601."""
    sys.stdout.write(json.dumps(msgspec.to_builtins(data), ensure_ascii=True) + "\n")
    sys.stdout.flush()


def short_topic(topic: str) -> str:
    """Return a topic's name without the system's prefix, for narrow columns."""
    return topic.removeprefix("envol.")


def neutralised(value: object, *, lines: bool = False) -> str:
    r"""Return `value` as text, each control or invisible character written as `\xNN` or `\uNNNN`."""
    kept = "\n\t" if lines else ""
    return "".join(
        char if char in kept or unicodedata.category(char) not in HIDDEN_CATEGORIES else _escape(char)
        for char in str(value)
    )


def shown(value: object, style: str = "", *, lines: bool = False) -> Text:
    """Return `value` ready to print: neutralised, never read as markup; one line unless `lines`."""
    return Text(neutralised(value, lines=lines), style=style)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
