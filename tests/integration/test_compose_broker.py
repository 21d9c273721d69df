"""docker-compose.yml's broker, run for real without Docker: the kafka service's own environment, as
compose-go loads it, given to deploy/local/kafka.sh `run` (the script the container runs) on the cached
Kafka jars. Only what is the container's is put to this machine: paths, the bind address, the `kafka` host
name, and free ports in place of 29092, 9092 and 9093. Then `topics` (services.provision) runs as the
admin with compose's passwords file, and a service connects with its own one-line secret, as each
container does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from services.grants import ADMIN, PRINCIPALS
from services.provision import provision
from services.simulator.processes import free_port
from shared.contracts.topics import Topic
from shared.settings import Settings
from tests.broker_process import running_broker, topics_of
from tests.compose import build_checker, draw_secrets, passwords, project
from tests.kafka import produce


def on_this_machine(environment: dict[str, str], state: Path) -> dict[str, str]:
    """The kafka container's environment with its paths, bind address, host name and ports made this
    machine's; every other setting as compose gives it."""
    names = ("KAFKA_PORT", "KAFKA_EXTERNAL_PORT", "KAFKA_CONTROLLER_PORT")
    ports = {name: str(free_port()) for name in names}
    local = dict(environment)
    local.pop("KAFKA_LIBS")  # the image's jars: here the cached ones (deploy/local/kafka.sh fetch)
    local |= {
        "ENVOL_STATE": str(state / "data"),
        "KAFKA_SECRETS": str(state / "broker-secrets"),
        "KAFKA_PASSWORDS_FILE": str(state / ".secrets" / Path(environment["KAFKA_PASSWORDS_FILE"]).name),
        "KAFKA_CA_EXPORT": str(state / "ca" / Path(environment["KAFKA_CA_EXPORT"]).name),
        "KAFKA_BIND": "127.0.0.1",
        "KAFKA_HOST": "localhost",
        "KAFKA_VOTERS": environment["KAFKA_VOTERS"].replace(
            f"@{environment['KAFKA_HOST']}:{environment['KAFKA_CONTROLLER_PORT']}",
            f"@localhost:{ports['KAFKA_CONTROLLER_PORT']}",
        ),
        "KAFKA_HEAP": "384m",
        **ports,
    }
    (state / "ca").mkdir(parents=True)
    return local


class ComposeBroker:
    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.ca = environment["KAFKA_CA_EXPORT"]
        self.passwords = Path(environment["KAFKA_PASSWORDS_FILE"])

    def settings(self, listener: str, username: str, passwords: Path | None = None) -> Settings:
        port = self.environment["KAFKA_PORT" if listener == "internal" else "KAFKA_EXTERNAL_PORT"]
        host = self.environment["KAFKA_HOST" if listener == "internal" else "KAFKA_EXTERNAL_HOST"]
        return Settings(
            mode="production",
            kafka_bootstrap_servers=f"{host}:{port}",
            kafka_security_protocol="SASL_SSL",
            kafka_ssl_cafile=self.ca,
            kafka_username=username,
            kafka_passwords_file=str(passwords or self.passwords),
        )


@pytest.fixture(scope="module")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ComposeBroker]:
    state = tmp_path_factory.mktemp("compose-broker")
    secrets = draw_secrets(state / ".secrets")
    kafka = project(build_checker(), secrets)["services"]["kafka"]["environment"]
    environment = on_this_machine(kafka, state)
    found = ComposeBroker(environment)
    async with running_broker(
        environment, state / "kafka.log", lambda: topics_of(found.settings("internal", ADMIN))
    ):
        yield found


async def test_the_admin_reaches_both_listeners_with_the_ca_the_broker_exported(
    broker: ComposeBroker,
) -> None:
    for listener in ("internal", "external"):
        assert isinstance(await topics_of(broker.settings(listener, ADMIN)), list)


def test_the_exported_ca_is_a_certificate_any_user_may_read(broker: ComposeBroker) -> None:
    assert Path(broker.ca).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert oct(Path(broker.ca).stat().st_mode & 0o777) == "0o644"  # the services run as another user


async def test_no_client_gets_in_without_tls_and_a_right_password(
    broker: ComposeBroker, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    await asyncio.to_thread(wrong.write_text, f"{ADMIN} not-the-admins-password-at-all\n")
    refused = [
        broker.settings("internal", ADMIN, wrong),
        Settings(  # plaintext, to the SASL_SSL listener
            kafka_bootstrap_servers=broker.settings("external", ADMIN).kafka_bootstrap_servers
        ),
    ]
    for settings in refused:
        with pytest.raises((KafkaError, OSError, asyncio.TimeoutError)):
            await asyncio.wait_for(topics_of(settings), timeout=20)


async def test_topics_as_the_admin_makes_every_user_and_a_service_may_do_its_part_only(
    broker: ComposeBroker,
) -> None:
    before = await asyncio.to_thread(broker.passwords.stat)
    admin = broker.settings("internal", ADMIN)
    said = await provision(admin)
    assert "users added" in said and "grants:" in said, said
    after = await asyncio.to_thread(
        broker.passwords.stat
    )  # compose mounts it read-only: it is read, never written
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert set(await asyncio.to_thread(passwords, broker.passwords)) == {ADMIN, *PRINCIPALS}
    # vetting, with the one line compose mounts into its container
    vetting = broker.settings("internal", "vetting", broker.passwords.parent / "kafka-password.vetting")
    await produce(vetting, [(Topic.VETTING_EVENTS, b"v-1", b"{}")])
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(vetting, [(Topic.APPLICATION_EVENTS, b"v-1", b"{}")])
