"""The composition every service shares: settings -> clients -> store -> handlers -> app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from faststream._internal.basic_types import SettingField
from faststream.asgi import AsgiFastStream
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.specification import AsyncAPI
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from shared import metrics
from shared.consuming import Coalesce, Exclusive, Handle
from shared.health import Assignment, Stages, routes
from shared.logs import configure_logging
from shared.messaging import make_broker, publisher, subscribe
from shared.mongo import mongo_client
from shared.processing import Publish
from shared.settings import Settings, UnsafeSettingsError, check_secrets
from shared.tracing import configure_tracing, stop_exporting


class Wiring(msgspec.Struct, frozen=True):
    """What a service plugs into the shared skeleton."""

    handle: Handle
    setup: Callable[[], Awaitable[None]]  # create indexes
    exclusive: Exclusive = lambda topic, event: False  # messages that touch other keys' aggregates
    # a batch as one unit of work, one load and one write per store (only if every effect is apply_once's)
    coalesce: Coalesce = Coalesce.NO
    stages: Stages | None = None  # volunteers per stage, counted in the database (the metric at /metrics)


Wire = Callable[[AsyncDatabase[dict[str, Any]], Publish, Settings], Wiring]


def create_service(
    name: str,
    consumes: Sequence[str],
    publishes: Sequence[str],
    wire: Wire,
    settings: Settings | None = None,
    secrets: Sequence[str] = (),
) -> AsgiFastStream:
    """Return the app of one service: one consumer group, its own database, and its HTTP routes
    (`shared.health`: /health, /ready, /metrics). It refuses to start
    (SystemExit, with the reason and no traceback) when the Kafka password, or another secret it uses
    (`secrets`: fields of shared.settings.SECRET_RULES), is unfit outside ENVOL_MODE=local."""
    settings = settings or Settings.from_env()
    try:
        check_secrets(settings, "kafka_password", "mongodb_password", *secrets)
    except UnsafeSettingsError as error:
        raise SystemExit(f"envol-{name} refuses to start: {error}") from None
    configure_logging(name, settings.log_level, settings.log_format, settings.replica())
    configure_tracing(name, settings)
    registry = CollectorRegistry()  # FastStream's metrics of this app (one per app: tests run several)
    middlewares = [KafkaPrometheusMiddleware(registry=registry, app_name=f"envol-{name}")]
    if not settings.metrics:
        metrics.switch_off()
        middlewares = []
    metrics.SERVICE.labels(name, settings.replica()).set(1)
    broker = make_broker(settings, client_id=f"envol-{name}", middlewares=middlewares)
    client = mongo_client(settings, app_name=f"envol-{name}")
    publish = publisher(broker, settings, publishes)
    wiring = wire(client[settings.database(name)], publish, settings)
    assignment = Assignment()
    subscribe(
        broker,
        settings,
        settings.group(name),
        consumes,
        wiring.handle,
        wiring.exclusive,
        wiring.coalesce,
        assignment,
    )
    app = AsgiFastStream(
        broker,
        asgi_routes=routes(broker, client, assignment, (registry,), wiring.stages),
        specification=AsyncAPI(
            title=f"Envol {name} service",
            version="1.0.0",
            description=f"The {name} service of Envol: what it consumes and what it publishes.",
        ),
    )

    @app.on_startup
    async def prepare() -> None:
        await wiring.setup()

    @app.after_shutdown
    async def close() -> None:
        await client.close()
        await stop_exporting()

    return app


def run(create_app: Callable[[Settings], AsgiFastStream]) -> None:
    """Run a service until SIGTERM or SIGINT: its consumer, and its HTTP routes on ENVOL_HTTP_HOST and
    ENVOL_HTTP_PORT (uvicorn, without access log: probes every few seconds would fill it)."""
    settings = Settings.from_env()
    app = create_app(settings)
    options: dict[str, SettingField] = {
        "host": settings.http_host,
        "port": settings.http_port,
        "log_config": None,
        "access_log": "false",
    }
    asyncio.run(app.run(run_extra_options=options))
