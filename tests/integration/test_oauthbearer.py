"""OAUTHBEARER on a real broker: a broker of the test's own with a listener whose validator trusts
unsigned tokens (deploy/local/kafka.sh's test-only KAFKA_TEST_UNSECURED_OAUTH_PORT), and the project's
clients (aiokafka, librdkafka, the FastStream broker) authenticating with the token in
KAFKA_OAUTH_TOKEN_FILE: the token's subject is the principal the grants apply to. What validates a token
(a JWKS, an issuer) is the broker's setting and the platform's; the clients' side is the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from confluent_kafka.admin import AdminClient

from services.grants import ADMIN
from services.provision import provision
from services.simulator.processes import free_port
from shared.contracts.topics import Topic
from shared.kafka import librdkafka_config
from shared.messaging import make_broker
from shared.settings import Settings
from tests.broker_process import running_broker, topics_of
from tests.kafka import produce
from tests.unit.test_kafka_security import unsigned_token


class OAuthBroker(msgspec.Struct):
    scram: Settings  # the admin, with SCRAM over the broker's usual listener
    oauth: Settings  # a client authenticating by bearer token over the OAUTHBEARER listener
    token_file: Path

    def as_subject(self, subject: str) -> Settings:
        """The token file now names `subject` (its issuer refreshed it)."""
        self.token_file.write_text(unsigned_token(subject, 4_000_000_000))
        return self.oauth


@pytest.fixture(scope="module")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OAuthBroker]:
    state = tmp_path_factory.mktemp("oauth-broker")
    ports = {
        name: str(free_port())
        for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_TEST_UNSECURED_OAUTH_PORT")
    }
    environment = {"ENVOL_STATE": str(state), "KAFKA_HEAP": "384m", **ports}
    secrets = state / "secrets"
    common = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_ssl_cafile": str(secrets / "ca.pem"),
        "mode": "local",
    }
    scram = Settings(
        kafka_bootstrap_servers=f"127.0.0.1:{ports['KAFKA_PORT']}",
        kafka_username=ADMIN,
        kafka_passwords_file=str(secrets / "kafka-passwords"),
        **common,  # type: ignore[arg-type]
    )
    token_file = state / "token"
    oauth = Settings(
        kafka_bootstrap_servers=f"127.0.0.1:{ports['KAFKA_TEST_UNSECURED_OAUTH_PORT']}",
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_oauth_token_file=str(token_file),
        **common,  # type: ignore[arg-type]
    )
    async with running_broker(environment, state / "kafka.log", lambda: topics_of(scram)):
        await provision(scram)
        yield OAuthBroker(scram, oauth, token_file)


async def test_a_tokens_subject_is_the_principal_for_aiokafka_and_its_grants_apply(
    broker: OAuthBroker,
) -> None:
    assert Topic.VETTING_EVENTS in await topics_of(broker.as_subject(ADMIN))
    vetting = broker.as_subject("vetting")
    await produce(vetting, [(Topic.VETTING_EVENTS, b"vol-1", b"{}")])
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(vetting, [(Topic.APPLICATION_EVENTS, b"vol-1", b"{}")])


def test_librdkafka_authenticates_with_the_same_token_file(broker: OAuthBroker) -> None:
    admin = AdminClient(librdkafka_config(broker.as_subject(ADMIN)))
    metadata = admin.list_topics(timeout=30)
    assert Topic.VETTING_EVENTS in metadata.topics


async def test_the_services_broker_publishes_with_the_token(broker: OAuthBroker) -> None:
    faststream = make_broker(broker.as_subject("vetting"), "oauth-test")
    await faststream.connect()
    try:
        await faststream.publish(b"{}", Topic.VETTING_EVENTS, key=b"vol-2")
    finally:
        await faststream.stop()
    await asyncio.sleep(0)
