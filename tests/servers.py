"""Where the tests find Kafka and MongoDB: the environment, else testcontainers, else the local servers.

Never a silent skip: when no server can be had, the test fails and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

from services.grants import ADMIN

ROOT = Path(__file__).resolve().parent.parent
# The test stack listens on its own ports, so `make up` and `make test` can run side by side.
TEST_STACK = {
    "ENVOL_STATE": str(ROOT / ".local-infra" / "test"),
    "KAFKA_PORT": "19092",
    "KAFKA_CONTROLLER_PORT": "19093",
    "FERRETDB_PORT": "37017",
    "FERRETDB_DEBUG_PORT": "18088",
}


class Endpoints(msgspec.Struct, frozen=True):
    """Where the servers listen, and which way they were found."""

    kafka: str
    mongodb: str
    source: str
    security: dict[str, str] = {}  # the local stack's KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_CAFILE, …

    def environment(self) -> dict[str, str]:
        """The environment of a process on these servers: the tests' own, with the servers' addresses and
        security; on the local stack, as the admin of both unless a user is set (`as_principal` for the
        others)."""
        found = (
            os.environ | self.security | {"KAFKA_BOOTSTRAP_SERVERS": self.kafka, "MONGODB_URL": self.mongodb}
        )
        if found.get("ENVOL_KAFKA_PASSWORDS") and not found.get("KAFKA_USERNAME"):
            found["KAFKA_USERNAME"] = ADMIN
        if found.get("ENVOL_MONGODB_PASSWORDS") and not found.get("MONGODB_USERNAME"):
            found["MONGODB_USERNAME"] = ADMIN
        return found


def printed_settings(stdout: str) -> dict[str, str]:
    """The `NAME=value` lines a local server script prints (infra.sh up, kafka-cluster.sh up)."""
    return dict(line.split("=", 1) for line in stdout.split() if "=" in line)


class NoServerError(RuntimeError):
    """No Kafka or MongoDB server could be found or started."""


def docker_answers() -> bool:
    """Tell whether a Docker engine answers (the client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def servers() -> Iterator[Endpoints]:
    """Yield endpoints for the whole test session."""
    kafka, mongodb = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL")
    if kafka and mongodb:
        yield Endpoints(kafka, mongodb, "environment")
    elif docker_answers():
        with _containers() as endpoints:
            yield endpoints
    else:
        yield _local_servers()


@contextmanager
def _containers() -> Iterator[Endpoints]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer

    # testcontainers' Kafka module boots Confluent's image (KRaft from 7.4); compose uses apache/kafka.
    kafka_image, mongo_image = "confluentinc/cp-kafka:7.9.0", "mongo:8.0"
    with KafkaContainer(kafka_image).with_kraft() as kafka, MongoDbContainer(mongo_image) as mongo:
        yield Endpoints(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers")


def _local_servers() -> Endpoints:
    script = ROOT / "deploy" / "local" / "infra.sh"
    result = subprocess.run(
        ["bash", str(script), "up"], env=os.environ | TEST_STACK, capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        raise NoServerError(
            "no KAFKA_BOOTSTRAP_SERVERS/MONGODB_URL, no Docker engine, and the local servers did not start "
            f"({script.relative_to(ROOT)} up exited {result.returncode}):\n{result.stderr[-3000:]}"
        )
    found = printed_settings(result.stdout)
    security = {k: v for k, v in found.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL")}
    return Endpoints(found["KAFKA_BOOTSTRAP_SERVERS"], found["MONGODB_URL"], "local servers", security)


def server_environment(endpoints: Endpoints) -> dict[str, str]:
    """The environment the local server scripts need to stop and start the servers under test."""
    if endpoints.source == "testcontainers":
        pytest.skip("under Docker the scripts cannot restart the containers' servers")
    return dict(os.environ) | (TEST_STACK if endpoints.source == "local servers" else {})
