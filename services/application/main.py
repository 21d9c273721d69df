"""Composition root of the application service: `python -m services.application`."""

from __future__ import annotations

from typing import Any

from faststream.asgi import AsgiFastStream
from pymongo.asynchronous.database import AsyncDatabase

from services.application.handlers import ApplicationHandlers
from services.application.mongo import MongoApplicationStore
from services.application.router import CONSUMES, NAME, PUBLISHES
from shared.consuming import Coalesce
from shared.contracts.application import ErasureRequested
from shared.processing import Publish
from shared.service import Wiring, create_service
from shared.settings import Settings


def wire(database: AsyncDatabase[dict[str, Any]], publish: Publish, settings: Settings) -> Wiring:
    """Plug the application store and handlers into the shared service skeleton."""
    store = MongoApplicationStore(database)
    handlers = ApplicationHandlers(store, publish)
    return Wiring(
        handle=handlers.handle, setup=store.setup, stages=store.applications.stages,
        coalesce=Coalesce.KEY_ONCE,  # a submission may take the claim its key's withdrawal released
        exclusive=lambda topic, event: isinstance(event, ErasureRequested),  # it finds applications by query
    )  # fmt: skip


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    """Return the application service's app."""
    return create_service(NAME, CONSUMES, PUBLISHES, wire, settings)
