"""The placement service's MongoDB adapter: the only module that knows its collections.

Every frequent operation is an `_id` lookup, insert or replace: on MongoDB these use the primary key,
and FerretDB (SQLite) pushes nothing else down, so any other filter would scan a whole collection.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.placement.domain import Candidate
from services.placement.seating import Hold, seat_id
from shared.contracts.placement import Opening
from shared.mongo import Keyed, MongoAggregates

FULL_RECHECK_SECONDS = 30.0  # a seat released by another process is found again after this long


class MongoSeats:
    """Seats and active placements as documents whose `_id` is the unique key: inserts decide who holds.

    `seats/<opening>#<n>` says which proposal holds seat n; `holdings/<placement id>` points at the seat a
    proposal tries or holds, written before the seat's insert, so a redelivery finds its own seat again.
    """

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.seats = database["seats"]
        self.holdings = database["holdings"]
        self.active = database["active_placements"]
        self.keyed_seats, self.keyed_active = Keyed(self.seats), Keyed(self.active)
        self.next_seat: dict[str, int] = {}  # where to start looking for a free seat; a hint, not a count
        self.full_until: dict[str, float] = {}  # openings found full, not searched again before then

    async def claim_volunteer(self, volunteer_id: str, application_id: str) -> bool:
        try:
            await self.active.insert_one({"_id": volunteer_id, "application_id": application_id})
        except DuplicateKeyError:
            holder = await self.active.find_one({"_id": volunteer_id})
            return holder is not None and holder["application_id"] == application_id
        return True

    async def release_volunteer(self, volunteer_id: str, application_id: str) -> None:
        await self.keyed_active.delete_if(volunteer_id, {"application_id": application_id})

    async def reserve(
        self, opening: Opening, application_id: str, placement_id: str, attempt: int
    ) -> str | None:
        hold = {"opening_id": opening.opening_id, "application_id": application_id,
                "placement_id": placement_id, "attempt": attempt}  # fmt: skip
        pointer = await self.holdings.find_one({"_id": placement_id})
        if pointer is not None and pointer["opening_id"] == opening.opening_id:
            seat = await self.seats.find_one({"_id": pointer["seat_id"]})
            if seat is not None and seat["placement_id"] == placement_id:
                return str(seat["_id"])  # reserved by an earlier delivery of the same fact
        if self.full_until.get(opening.opening_id, 0.0) > time.monotonic():
            return None  # found full a moment ago: no seat was released here since
        first = self.next_seat.get(opening.opening_id, 1)
        for n in [*range(first, opening.seats + 1), *range(1, min(first, opening.seats + 1))]:
            key = seat_id(opening.opening_id, n)
            if await self.seats.find_one({"_id": key}, {"_id": 1}) is not None:
                continue  # taken: a read is cheaper than a failed insert
            await self.holdings.replace_one({"_id": placement_id}, {"seat_id": key, **hold}, upsert=True)
            try:
                await self.seats.insert_one({"_id": key, **hold})
            except DuplicateKeyError:
                continue  # taken by another process meanwhile: try the next seat
            self.next_seat[opening.opening_id] = n + 1
            return key
        self.full_until[opening.opening_id] = time.monotonic() + FULL_RECHECK_SECONDS
        return None

    async def occupancy(self) -> dict[str, int]:
        """Count reserved seats per opening (a full scan: for the audit, not for the hot path)."""
        counts: dict[str, int] = {}
        async for seat in self.seats.find({}, {"opening_id": 1}):
            counts[seat["opening_id"]] = counts.get(seat["opening_id"], 0) + 1
        return counts

    async def holds(self, placement_ids: Sequence[str]) -> Sequence[Hold]:
        found = []
        for placement_id in placement_ids:
            pointer = await self.holdings.find_one({"_id": placement_id})
            seat = pointer and await self.seats.find_one({"_id": pointer["seat_id"]})
            if seat is not None and seat["placement_id"] == placement_id:
                found.append(Hold(seat_id=seat.pop("_id"), **seat))
        return found

    async def release(self, hold: Hold) -> None:
        if await self.keyed_seats.delete_if(hold.seat_id, {"placement_id": hold.placement_id}):
            self.full_until.pop(hold.opening_id, None)
            self.next_seat[hold.opening_id] = int(hold.seat_id.rsplit("#", 1)[1])


class MongoAwaiting:
    """Waiting candidates, one small document each."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = database["awaiting"]
        self.keyed = Keyed(self.collection)

    async def mark(self, application_id: str, cleared_at: dt.datetime) -> None:
        await self.collection.replace_one({"_id": application_id}, {"since": cleared_at}, upsert=True)

    async def unmark(self, application_id: str) -> None:
        await self.keyed.delete_if(application_id, {})

    async def ordered(self) -> Sequence[str]:
        waiting = [(doc["since"], doc["_id"]) async for doc in self.collection.find({})]
        return [application_id for _, application_id in sorted(waiting)]


class MongoPlacementStore:
    """The placement store on MongoDB."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.candidates: MongoAggregates[Candidate] = MongoAggregates(database["candidates"], Candidate)
        self.openings: MongoAggregates[Opening] = MongoAggregates(database["openings"], Opening)
        self.seats = MongoSeats(database)
        self.awaiting = MongoAwaiting(database)
        self.database = database

    async def setup(self) -> None:
        """Nothing to create: every lookup is by `_id`, which every collection indexes."""
