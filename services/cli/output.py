"""The terminal the tools print to: its own width, or 120 columns when output is piped (make, CI, files)."""

from __future__ import annotations

import sys

from rich.console import Console


def console() -> Console:
    """Return a console that keeps tables readable when not writing to a terminal."""
    return Console(width=None if sys.stdout.isatty() else 120)
