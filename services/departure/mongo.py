"""The departure service's MongoDB adapter: the only module that knows its collections."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.departure.domain import Departure
from shared.mongo import MongoAggregates


class MongoDepartureStore:
    """The departure store on MongoDB: one document per application, `_id` = application id."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.departures: MongoAggregates[Departure] = MongoAggregates(database["departures"], Departure)
        self.database = database

    async def setup(self) -> None:
        """Nothing to create: every lookup is by `_id`, which every collection indexes."""
