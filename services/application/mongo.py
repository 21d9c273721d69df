"""The application service's MongoDB adapter: the only module that knows its collections."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.application.domain import Application, Erasure
from shared.mongo import Keyed, MongoAggregates


class MongoClaims:
    """Claims as documents whose `_id` is the claimed key: an insert is atomic and unique."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = database["open_applications"]
        self.keyed = Keyed(self.collection)

    async def claim(self, key: str, application_id: str) -> bool:
        try:
            await self.collection.insert_one({"_id": key, "application_id": application_id})
        except DuplicateKeyError:
            holder = await self.collection.find_one({"_id": key})
            return holder is not None and holder["application_id"] == application_id
        return True

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
