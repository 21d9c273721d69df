"""Read-only views of the services' stores, for the audit: seat occupancy."""

from __future__ import annotations

from services.placement.mongo import MongoPlacementStore
from shared.mongo import mongo_client
from shared.settings import Settings


async def occupancy(settings: Settings) -> dict[str, int]:
    """Count reserved seats per opening in the placement store."""
    client = mongo_client(settings, "envol-audit")
    try:
        return await MongoPlacementStore(client[settings.database("placement")]).seats.occupancy()
    finally:
        await client.close()
