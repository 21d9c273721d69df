"""Session fixtures: real server endpoints for integration and end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from pymongo import AsyncMongoClient

from shared.mongo import mongo_client
from shared.settings import Settings
from tests.servers import Endpoints, NoServerError, servers

MARK_OF_FOLDER = {"integration": pytest.mark.integration, "e2e": pytest.mark.e2e}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by their folder, so `-m integration` and `-m e2e` select them."""
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in MARK_OF_FOLDER:
            item.add_marker(MARK_OF_FOLDER[folder])


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    """The real Kafka broker and MongoDB-protocol server; fails the test when there are none."""
    try:
        with servers() as found:
            yield found
    except NoServerError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def settings(endpoints: Endpoints) -> Settings:
    """Settings pointing at the real servers, with topics, groups and databases of this run's own; local
    mode, so the local default key is accepted (the service processes get ENVOL_MODE=local either way)."""
    run = f"test{uuid.uuid4().hex[:8]}"
    return Settings(
        **server_security(Settings.from_env(endpoints.environment())),
        mode="local",
        kafka_bootstrap_servers=endpoints.kafka,
        mongodb_url=endpoints.mongodb,
        namespace=run,
        database_prefix=run,
        retry_base_seconds=0.05,
    )


def server_security(environment: Settings) -> dict[str, str]:
    """TLS, SASL and the database's user as the environment gives them (PLAINTEXT and no user unless set):
    the tests connect to the secured servers the way the services and tools do. With them, the console's
    operators (the local stack draws them)."""
    return {
        field: getattr(environment, field)
        for field in Settings.__struct_fields__
        if (field.startswith(("kafka_", "mongodb_")) or field == "console_passwords_file")
        and field not in ("kafka_bootstrap_servers", "mongodb_url")
    }


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """The same servers, in a namespace no service process listens to."""
    return msgspec.structs.replace(settings, namespace=f"{settings.namespace}-quiet")


@pytest.fixture
async def mongo(settings: Settings) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """An async client on the real MongoDB-protocol server."""
    client = mongo_client(settings, "envol-tests")
    yield client
    await client.close()
