"""Composition root of the placement service: `python -m services.placement`."""

from __future__ import annotations

from functools import partial
from typing import Any

from faststream.asgi import AsgiFastStream
from pymongo.asynchronous.database import AsyncDatabase

from services.placement.handlers import PlacementHandlers, touches_other_candidates
from services.placement.mongo import MongoPlacementStore
from services.placement.pseudonym import volunteer_ref
from services.placement.router import CONSUMES, NAME, PUBLISHES
from shared.processing import Publish
from shared.service import Wiring, create_service
from shared.settings import Settings


def wire(database: AsyncDatabase[dict[str, Any]], publish: Publish, settings: Settings) -> Wiring:
    """Plug the placement store and handlers into the shared service skeleton."""
    store = MongoPlacementStore(database)
    pseudonym = partial(volunteer_ref, settings.pseudonym_key)
    handlers = PlacementHandlers(
        store, publish, pseudonym, settings.pseudonym_key_version, settings.shared_partner_topic
    )
    return Wiring(
        handle=handlers.handle,
        setup=store.setup,
        exclusive=touches_other_candidates,
        stages=store.candidates.stages,
    )


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    """Return the placement service's app; it alone derives volunteer_ref, so it alone needs the key."""
    return create_service(NAME, CONSUMES, PUBLISHES, wire, settings, secrets=("pseudonym_key",))
