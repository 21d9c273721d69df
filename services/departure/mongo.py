"""The departure service's MongoDB adapter: the only module that knows its collections."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.departure.domain import Departure, Hosted
from shared.mongo import MongoAggregates


class MongoDepartureStore:
    """The departure store on MongoDB: one document per application, `_id` = application id, and one per
    placement a case follows, `_id` = placement id."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.departures: MongoAggregates[Departure] = MongoAggregates(database["departures"], Departure)
        self.placements: MongoAggregates[Hosted] = MongoAggregates(database["placements"], Hosted)
        self.database = database

    async def setup(self) -> None:
        """Nothing to create: every lookup is by `_id`, which every collection indexes, but an erasure's,
        of the volunteer's placements by the volunteer: a scan of `placements`, for a rare event, though
        the collection grows by one record per confirmed placement (and per unknown id a host reported
        on) and never shrinks but by erasures (an `envol erasure status` reads every service's aggregates
        so). On MongoDB an index on `subject` would serve it; FerretDB v1 filters on anything but `_id` by
        reading the whole collection, index or not."""
