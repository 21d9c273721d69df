"""The operators' read model, kept in the database: snapshots of the console's `View` with the position of
every partition it had folded, so neither the console nor `envol status` reads the topics from offset 0
(retention deletes the oldest records: a view rebuilt from the topics alone would silently undercount).

A snapshot is written as chunks (a document holds at most 16 MB), then made the latest by one write of
the namespace's `latest` document, which names it and its positions; the chunks of older snapshots are
deleted after. A crash in between leaves the latest snapshot whole, and chunks nobody names, deleted by
the next save.
Its database is the operators' (`envol_views`), which the auditor user reads and writes (services/grants.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from pymongo.asynchronous.database import AsyncDatabase

from services.cli.reading import Seen, position_key, read
from services.console.view import View
from services.grants import VIEWS
from shared.contracts.topics import TOPICS
from shared.mongo import mongo_client, put
from shared.settings import Settings

log = logging.getLogger("envol.views")

CHUNK = 8 * 1024 * 1024  # bytes of compressed snapshot per document
LATEST = "latest"
HISTORY_LAYOUT = 3  # raised when the view's or its history's fields change types: an older one is read
# field by field, and its history begun anew
Positions = dict[str, int]  # `position_key` of a partition -> the next offset to fold


class Snapshot(msgspec.Struct, frozen=True):
    """A read model and where it stands in each partition of the topics it folds."""

    view: View
    positions: Positions
    taken_at: dt.datetime


class Snapshots:
    """The snapshots of the read model of the topics of one namespace (`scope`: the settings' namespace, so
    runs on other topics sharing the database, as tests and benchmarks do, keep theirs apart)."""

    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        scope: str,
        contract_topic: Callable[[str], str],
    ) -> None:
        self.chunks = database["console_snapshot_chunks"]
        self.latest = database["console_snapshots"]
        self.scope = scope
        self.key = f"{LATEST}:{scope}"
        self.contract_topic = contract_topic  # a topic's name in the contracts, from the broker's

    def contract_positions(self, positions: Positions) -> Positions:
        """`positions` (by the broker's topic names) by the contracts' names, as a `History` keeps them."""
        named = {}
        for key, offset in positions.items():
            topic, _, partition = key.rpartition(":")
            named[position_key(self.contract_topic(topic), int(partition))] = offset
        return named

    async def save(self, view: View, positions: Positions) -> int:
        """Write `view` as of `positions` and make it the latest; return its size in bytes (compressed).
        Both are read before the first await, so a consumer folding meanwhile cannot make them disagree."""
        taken = Snapshot(view, dict(positions), dt.datetime.now(dt.UTC))
        data = zlib.compress(view.snapshot(), 1)
        name = uuid.uuid4().hex
        previous = await self.latest.find_one({"_id": self.key}, {"snapshot": 1})
        parts = [data[n : n + CHUNK] for n in range(0, len(data), CHUNK)] or [b""]
        for n, part in enumerate(parts):
            chunk = {"_id": f"{name}:{n}", "scope": self.scope, "snapshot": name, "data": part}
            await self.chunks.insert_one(chunk)
        latest = {
            "snapshot": name,
            "chunks": len(parts),
            # a list, not a document keyed by partition: a topic's name has dots (FerretDB v1 keeps no
            # nested arrays either)
            "positions": [{"partition": key, "next": n} for key, n in sorted(taken.positions.items())],
            "taken_at": taken.taken_at,
            "bytes": len(data),
            "history": HISTORY_LAYOUT,  # the layout of the audit's history its view keeps
        }
        await put(self.latest, self.key, latest)
        if previous is not None:  # its chunks only: another writer's may be on their way to be named
            await self.chunks.delete_many({"scope": self.scope, "snapshot": previous["snapshot"]})
        return len(data)

    async def positions(self) -> Positions | None:
        """Where the latest snapshot stands in each partition (None: there is none), without its view."""
        latest = await self.latest.find_one({"_id": self.key}, {"positions": 1})
        return None if latest is None else _positions(latest)

    async def load(self, attempts: int = 3) -> Snapshot | None:
        """The latest snapshot, or None when there is none yet. A save that made another one the latest
        while this one was read may have deleted its chunks: then the new latest is read."""
        for _ in range(attempts):
            latest = await self.latest.find_one({"_id": self.key})
            if latest is None:
                return None
            ids = [f"{latest['snapshot']}:{n}" for n in range(latest["chunks"])]
            found = {d["_id"]: bytes(d["data"]) async for d in self.chunks.find({"_id": {"$in": ids}})}
            if all(i in found for i in ids):
                data = zlib.decompress(b"".join(found[i] for i in ids))
                kept = latest.get("history") == HISTORY_LAYOUT  # else it begins where the snapshot stood
                view = View.restored(data, None if kept else self.contract_positions(_positions(latest)))
                return Snapshot(view, _positions(latest), latest["taken_at"])
        raise LookupError(f"the latest read model snapshot lacks chunks, {attempts} times")


def _positions(latest: dict[str, Any]) -> Positions:
    return {str(p["partition"]): int(p["next"]) for p in latest["positions"]}


def operators_snapshots(settings: Settings, app_name: str = "envol-console") -> Snapshots:
    """The console's snapshots in the operators' database of `settings`, as the settings' database user."""
    database = mongo_client(settings, app_name)[settings.database(VIEWS)]
    return Snapshots(database, settings.namespace, settings.contract_topic)


@contextlib.asynccontextmanager
async def opened_snapshots(settings: Settings, app_name: str) -> AsyncIterator[Snapshots]:
    """The same, for a command's while: its client closed after."""
    client = mongo_client(settings, app_name)
    try:
        yield Snapshots(client[settings.database(VIEWS)], settings.namespace, settings.contract_topic)
    finally:
        await client.close()


FOLDED = TOPICS  # what a view reads: every topic (those partners read for the audit's history only)


def fold(view: View, seen: Seen) -> None:
    """Fold one record into `view`; one it cannot fold is logged and counted, and the rest go on."""
    try:
        view.apply(seen)
    except Exception:
        log.exception("record %s:%s:%s not folded", seen.topic, seen.partition, seen.offset)
        view.unreadable += 1


async def current_view(settings: Settings) -> tuple[View, str | None]:
    """The operators' read model now: the console's latest snapshot with every record since folded in;
    without a snapshot (no console has saved one yet), the topics from their start. When the snapshot
    cannot be read, the topics from their start too, and why (what retention deleted is then missing)."""
    found, problem = None, None
    try:
        async with opened_snapshots(settings, "envol-cli") as snapshots:
            found = await snapshots.load()
    except Exception as error:
        problem = f"the read model's snapshot cannot be read ({type(error).__name__}: {error})"
        log.warning("%s; reading the topics from their start", problem)
    view = found.view if found is not None else View()
    async for seen in read(settings, FOLDED, starting=found.positions if found is not None else None):
        fold(view, seen)
    return view, problem
