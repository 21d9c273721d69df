"""The four services as the simulation runs them: the real handlers on simulated stores, and the
`exclusive` predicate and `coalesce` flag each service's real `wire` function gives."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec

from services.application import main as application_main
from services.application import router as application_router
from services.application.handlers import ApplicationHandlers
from services.departure import main as departure_main
from services.departure import router as departure_router
from services.departure.handlers import DepartureHandlers
from services.placement import main as placement_main
from services.placement import router as placement_router
from services.placement.handlers import PlacementHandlers
from services.placement.pseudonym import volunteer_ref
from services.vetting import main as vetting_main
from services.vetting import router as vetting_router
from services.vetting.handlers import VettingHandlers
from shared.consuming import Coalesce, Exclusive, Handle
from shared.processing import Publish
from shared.settings import Settings
from tests.simulation import stores
from tests.simulation.scheduler import Scheduler


class Service(msgspec.Struct, frozen=True):
    """One service: its topics, its store (shared by its replicas) and how a replica builds its handler."""

    name: str
    consumes: tuple[str, ...]
    publishes: tuple[str, ...]
    store: Any
    handler: Callable[[Publish], Handle]
    exclusive: Exclusive
    coalesce: Coalesce


class _Unused:
    """What the real `wire` gets for a database: its Mongo adapters only keep references to collections."""

    def __getitem__(self, name: str) -> _Unused:
        return self


async def _unused_publish(outgoing: Any) -> None:
    raise AssertionError("the real wiring is read for its predicates only")


def _service(module: Any, router: Any, store: Any, handler: Callable[[Publish], Handle]) -> Service:
    wiring = module.wire(_Unused(), _unused_publish, Settings())
    return Service(
        router.NAME,
        tuple(str(t) for t in router.CONSUMES),
        tuple(str(t) for t in router.PUBLISHES),
        store,
        handler,
        wiring.exclusive,
        wiring.coalesce,
    )


PSEUDONYM_KEY = "simulation-key"  # placement's: the world's hosts know their applicants by references of it


def build(scheduler: Scheduler, pseudonym_key: str = PSEUDONYM_KEY) -> list[Service]:
    """The four services, each with its own store."""
    application = stores.ApplicationStore(scheduler)
    vetting = stores.VettingStore(scheduler)
    placement = stores.PlacementStore(scheduler)
    departure = stores.DepartureStore(scheduler)
    ref = partial(volunteer_ref, pseudonym_key)
    return [
        _service(
            application_main,
            application_router,
            application,
            lambda publish: ApplicationHandlers(application, publish).handle,
        ),
        _service(
            vetting_main, vetting_router, vetting, lambda publish: VettingHandlers(vetting, publish).handle
        ),
        _service(
            placement_main,
            placement_router,
            placement,
            lambda publish: PlacementHandlers(placement, publish, ref).handle,
        ),
        _service(
            departure_main,
            departure_router,
            departure,
            lambda publish: DepartureHandlers(departure, publish).handle,
        ),
    ]
