"""The operators' read model as the `envol` commands find it, without a database."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.console import snapshots
from services.console.view import View


class KeptSnapshots:
    """The latest snapshot a command loads (None when no console has saved one)."""

    def __init__(self, snapshot: snapshots.Snapshot | None) -> None:
        self.snapshot = snapshot

    async def load(self) -> snapshots.Snapshot | None:
        return self.snapshot


def keep_read_model(
    monkeypatch: pytest.MonkeyPatch, view: View | None = None, positions: dict[str, int] | None = None
) -> None:
    """Make the commands find `view` as the latest snapshot, taken at `positions` (the topics' start when
    none; no snapshot at all when `view` is None, so they fold the topics from their start)."""
    kept = None if view is None else snapshots.Snapshot(view, positions or {}, dt.datetime.now(dt.UTC))

    @contextlib.asynccontextmanager
    async def opened(*_: Any) -> AsyncIterator[KeptSnapshots]:
        yield KeptSnapshots(kept)

    monkeypatch.setattr(snapshots, "opened_snapshots", opened)
