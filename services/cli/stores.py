"""Read-only views of the four services' stores, for the audit: pending outboxes, seat occupancy."""

from __future__ import annotations

from typing import Any

from services.application.mongo import MongoApplicationStore
from services.departure.mongo import MongoDepartureStore
from services.placement.mongo import MongoPlacementStore
from services.vetting.mongo import MongoVettingStore
from shared.aggregates import Aggregates
from shared.mongo import mongo_client
from shared.settings import Settings


async def pending_outboxes(settings: Settings) -> dict[str, int]:
    """Count the aggregates whose outbox is not published yet, per service."""
    client = mongo_client(settings, "envol-audit")
    try:
        stores: dict[str, list[Aggregates[Any]]] = {
            "application": [MongoApplicationStore(client[settings.database("application")]).applications],
            "vetting": [MongoVettingStore(client[settings.database("vetting")]).cases],
            "placement": [
                (placement := MongoPlacementStore(client[settings.database("placement")])).candidates,
                placement.openings,
            ],
            "departure": [MongoDepartureStore(client[settings.database("departure")]).departures],
        }
        return {
            name: sum([len(await s.pending()) for s in aggregates]) for name, aggregates in stores.items()
        }
    finally:
        await client.close()


async def occupancy(settings: Settings) -> dict[str, int]:
    """Count reserved seats per opening in the placement store."""
    client = mongo_client(settings, "envol-audit")
    try:
        return await MongoPlacementStore(client[settings.database("placement")]).seats.occupancy()
    finally:
        await client.close()
