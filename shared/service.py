"""The composition every service shares: settings -> clients -> store -> handlers -> app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from faststream import FastStream
from faststream.specification import AsyncAPI
from pymongo.asynchronous.database import AsyncDatabase

from shared.consuming import Exclusive, Handle
from shared.contracts.topics import Topic
from shared.messaging import make_broker, publisher, subscribe
from shared.mongo import mongo_client
from shared.processing import Publish
from shared.settings import Settings, UnsafeSettingsError, check_secrets


class Wiring(msgspec.Struct, frozen=True):
    """What a service plugs into the shared skeleton."""

    handle: Handle
    setup: Callable[[], Awaitable[None]]  # create indexes
    exclusive: Exclusive = lambda topic, event: False  # messages that touch other keys' aggregates
    coalesce: bool = False  # a key's messages of a batch saved once (only if every effect is apply_once's)


Wire = Callable[[AsyncDatabase[dict[str, Any]], Publish, Settings], Wiring]


# The drivers' loggers: at DEBUG, PyMongo logs whole commands and replies (documents, personal data
# included), aiokafka and FastStream log records and message bodies. They are held at INFO whatever
# ENVOL_LOG_LEVEL says, so no level ever writes a document or a message body to a log.
DRIVER_LOGGERS = ("pymongo", "aiokafka", "faststream", "confluent_kafka")


def configure_logging(name: str, level: str) -> None:
    """One line per record, named by the service, at `level` for Envol's own loggers; the drivers' never
    below INFO."""
    logging.basicConfig(
        level=level, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s", force=True
    )
    floor = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    for driver in DRIVER_LOGGERS:
        logging.getLogger(driver).setLevel(floor)


def create_service(
    name: str,
    consumes: Sequence[Topic],
    publishes: Sequence[Topic],
    wire: Wire,
    settings: Settings | None = None,
    secrets: Sequence[str] = (),
) -> FastStream:
    """Return the FastStream app of one service: one consumer group, its own database. It refuses to start
    (SystemExit, with the reason and no traceback) when the Kafka password, or another secret it uses
    (`secrets`: fields of shared.settings.SECRET_RULES), is unfit outside ENVOL_MODE=local."""
    settings = settings or Settings.from_env()
    try:
        check_secrets(settings, "kafka_password", "mongodb_password", *secrets)
    except UnsafeSettingsError as error:
        raise SystemExit(f"envol-{name} refuses to start: {error}") from None
    configure_logging(name, settings.log_level)
    broker = make_broker(settings, client_id=f"envol-{name}")
    client = mongo_client(settings, app_name=f"envol-{name}")
    publish = publisher(broker, settings, publishes)
    wiring = wire(client[settings.database(name)], publish, settings)
    subscribe(
        broker, settings, settings.group(name), consumes, wiring.handle, wiring.exclusive, wiring.coalesce
    )
    app = FastStream(
        broker,
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

    return app
