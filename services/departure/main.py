"""Composition root of the departure service: `python -m services.departure`."""

from __future__ import annotations

from typing import Any

from faststream.asgi import AsgiFastStream
from pymongo.asynchronous.database import AsyncDatabase

from services.departure.handlers import DepartureHandlers
from services.departure.mongo import MongoDepartureStore
from services.departure.router import CONSUMES, NAME, PUBLISHES
from shared.consuming import Coalesce
from shared.processing import Publish
from shared.service import Wiring, create_service
from shared.settings import Settings


def wire(database: AsyncDatabase[dict[str, Any]], publish: Publish, settings: Settings) -> Wiring:
    """Plug the departure store and handlers into the shared service skeleton."""
    store = MongoDepartureStore(database)
    handlers = DepartureHandlers(store, publish)
    return Wiring(
        handle=handlers.handle, setup=store.setup, coalesce=Coalesce.BATCH, stages=store.departures.stages
    )


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    """Return the departure service's app."""
    return create_service(NAME, CONSUMES, PUBLISHES, wire, settings)
