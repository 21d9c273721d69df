"""The placement service's MongoDB adapter: the only module that knows its collections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.placement.domain import Candidate
from services.placement.seating import Hold, seat_id
from shared.contracts.placement import Opening
from shared.mongo import MongoAggregates


class MongoSeats:
    """Seats and active placements as documents whose `_id` is the unique key: inserts decide who holds."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.seats = database["seats"]
        self.active = database["active_placements"]

    async def claim_volunteer(self, volunteer_id: str, application_id: str) -> bool:
        try:
            await self.active.insert_one({"_id": volunteer_id, "application_id": application_id})
        except DuplicateKeyError:
            holder = await self.active.find_one({"_id": volunteer_id})
            return holder is not None and holder["application_id"] == application_id
        return True

    async def release_volunteer(self, volunteer_id: str, application_id: str) -> None:
        await self.active.delete_one({"_id": volunteer_id, "application_id": application_id})

    async def reserve(
        self, opening: Opening, application_id: str, placement_id: str, attempt: int
    ) -> str | None:
        mine = {"application_id": application_id, "placement_id": placement_id}
        held = await self.seats.find_one({"opening_id": opening.opening_id, **mine})
        if held is not None:
            return str(held["_id"])  # reserved by an earlier delivery of the same fact
        taken = {doc["_id"] async for doc in self.seats.find({"opening_id": opening.opening_id}, {"_id": 1})}
        for n in range(1, opening.seats + 1):
            key = seat_id(opening.opening_id, n)
            if key in taken:
                continue
            try:
                await self.seats.insert_one(
                    {"_id": key, "opening_id": opening.opening_id, "attempt": attempt, **mine}
                )
            except DuplicateKeyError:
                continue  # another process took it first: try the next seat
            return key
        return None

    async def holds(self, application_id: str) -> Sequence[Hold]:
        return [
            msgspec.convert({"seat_id": doc.pop("_id"), **doc}, Hold)
            async for doc in self.seats.find({"application_id": application_id})
        ]

    async def release(self, hold: Hold) -> None:
        await self.seats.delete_one(
            {"_id": hold.seat_id, "application_id": hold.application_id, "placement_id": hold.placement_id}
        )


class MongoPlacementStore:
    """The placement store on MongoDB."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.candidates: MongoAggregates[Candidate] = MongoAggregates(database["candidates"], Candidate)
        self.openings: MongoAggregates[Opening] = MongoAggregates(database["openings"], Opening)
        self.seats = MongoSeats(database)
        self.database = database

    async def setup(self) -> None:
        """Create the indexes: pending outboxes, awaiting candidates, seats by holder and by opening."""
        await self.database["candidates"].create_index("pending")
        await self.database["candidates"].create_index("state.status")
        await self.database["openings"].create_index("pending")
        await self.database["seats"].create_index("application_id")
        await self.database["seats"].create_index("opening_id")
