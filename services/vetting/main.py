"""Composition root of the vetting service: `python -m services.vetting`."""

from __future__ import annotations

from typing import Any

from faststream.asgi import AsgiFastStream
from pymongo.asynchronous.database import AsyncDatabase

from services.vetting.handlers import VettingHandlers
from services.vetting.mongo import MongoVettingStore
from services.vetting.router import CONSUMES, NAME, PUBLISHES
from shared.consuming import Coalesce
from shared.processing import Publish
from shared.service import Wiring, create_service
from shared.settings import Settings


def wire(database: AsyncDatabase[dict[str, Any]], publish: Publish, settings: Settings) -> Wiring:
    """Plug the vetting store and handlers into the shared service skeleton."""
    store = MongoVettingStore(database)
    handlers = VettingHandlers(store, publish)
    return Wiring(
        handle=handlers.handle, setup=store.setup, coalesce=Coalesce.BATCH, stages=store.cases.stages
    )


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    """Return the vetting service's app."""
    return create_service(NAME, CONSUMES, PUBLISHES, wire, settings)
