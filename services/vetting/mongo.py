"""The vetting service's MongoDB adapter: the only module that knows its collections."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.vetting.domain import Case
from shared.mongo import MongoAggregates


class MongoVettingStore:
    """The vetting store on MongoDB: one document per application's case."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.cases: MongoAggregates[Case] = MongoAggregates(database["vetting_cases"], Case)
        self.database = database

    async def setup(self) -> None:
        """Nothing to create: every lookup is by `_id`, which every collection indexes."""
