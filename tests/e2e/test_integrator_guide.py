"""The integrators' guide runs as written: its example facts, sent as each source's principal with the
guide's kcat options (librdkafka's properties, here through confluent-kafka's librdkafka: Debian 12's kcat
1.7.1 on librdkafka 2.0.2 fails SCRAM against this broker, see docs/integrators.md), are applied by the
services on the real servers: an application received, then cleared once the screening reports are in."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from confluent_kafka import Producer

from services.simulator.processes import ROOT, ServiceProcesses
from shared.contracts import application as app
from shared.contracts import vetting as vet
from shared.settings import Settings, password_in_file
from tests.observer import Observer

pytestmark = pytest.mark.timeout(120)
EXAMPLES = ROOT / "docs" / "examples"


def kcat_send(settings: Settings, principal: str, path: Path) -> None:
    """Send one example file as the guide does: one file, one message, keyed by its subject, with the
    guide's -X properties."""
    key = json.loads(path.read_text())["subject_id"]
    password = password_in_file(settings.kafka_passwords_file, "ENVOL_KAFKA_PASSWORDS", principal)
    properties = {"bootstrap.servers": settings.kafka_bootstrap_servers, "security.protocol": "SASL_SSL",
                  "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": principal, "sasl.password": password,
                  "ssl.ca.location": settings.kafka_ssl_cafile, "partitioner": "murmur2_random"}  # fmt: skip
    failures: list[str] = []
    producer = Producer(properties | {"error_cb": lambda error: failures.append(str(error))})
    producer.produce(settings.topic(path.parent.name), path.read_bytes(), key.encode(),
                     on_delivery=lambda error, _: error and failures.append(str(error)))  # fmt: skip
    assert producer.flush(30) == 0 and not failures, f"{path.name} was not sent: {failures}"


async def test_the_guides_examples_sent_with_kcat_are_applied(
    settings: Settings, services: ServiceProcesses, observer: Observer
) -> None:
    assert settings.kafka_security_protocol == "SASL_SSL", "the guide's commands are for the secured broker"
    application = EXAMPLES / "envol.application.intake.portal" / "01-ApplicationSubmitted.json"
    application_id = json.loads(application.read_text())["application_id"]
    await asyncio.to_thread(kcat_send, settings, "portal", application)
    await observer.wait_for(app.ApplicationReceived, application_id=application_id)
    for report in sorted((EXAMPLES / "envol.vetting.intake.screening").glob("*.json")):
        await asyncio.to_thread(kcat_send, settings, "screening", report)
    await observer.wait_for(vet.VettingCleared, application_id=application_id)
