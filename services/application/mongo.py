"""The application service's MongoDB adapter: the only module that knows its collections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.application.domain import Application, Erasure
from services.application.store import Claim
from shared.mongo import Keyed, MongoAggregates, only_duplicates


class MongoClaims:
    """Claims as documents whose `_id` is the claimed key: an insert is atomic and unique."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = database["open_applications"]
        self.keyed = Keyed(self.collection)

    async def claim_many(self, claims: Sequence[Claim]) -> dict[Claim, bool]:
        """One unordered bulk insert; a key already held is read back, all in one query, for its holder."""
        first: dict[str, dict[str, str]] = {}  # of two applications claiming one key, the first asks for it
        for key, held_by in claims:
            first.setdefault(key, {"_id": key, "application_id": held_by})
        wanted = list(first.values())
        try:
            await self.collection.insert_many(wanted, ordered=False)
            held = set()
        except BulkWriteError as error:
            if not only_duplicates(error):
                raise
            held = {wanted[e["index"]]["_id"] for e in error.details["writeErrors"]}
        holders = {d["_id"]: d["application_id"] for d in wanted if d["_id"] not in held}
        if held:
            found = self.collection.find({"_id": {"$in": sorted(held)}})
            holders |= {d["_id"]: d["application_id"] async for d in found}
        return {(key, held_by): holders.get(key) == held_by for key, held_by in claims}

    async def release(self, key: str, application_id: str) -> None:
        await self.keyed.delete_if(key, {"application_id": application_id})


class MongoApplicationStore:
    """The application store on MongoDB."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.applications: MongoAggregates[Application] = MongoAggregates(
            database["applications"], Application
        )
        self.claims = MongoClaims(database)
        self.erasures: MongoAggregates[Erasure] = MongoAggregates(database["erasures"], Erasure)
        self.database = database

    async def setup(self) -> None:
        """Nothing to create: every lookup is by `_id`, which every collection indexes."""
