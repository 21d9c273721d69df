"""Bad input never stops a service: every kind is set aside with a reason; operators list and replay it."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from typer.testing import CliRunner

from services.cli.app import cli
from services.simulator.poison import bad_inputs
from services.simulator.processes import service_environment
from shared import samples
from shared.contracts import application as app
from shared.contracts.codec import encode
from shared.contracts.placement import Party
from shared.contracts.topics import Topic
from shared.kafka import as_principal, client_options
from shared.settings import Settings
from tests.kafka import produce
from tests.observer import Observer

BAD = 260  # every kind, on every intake topic, several times


def _fresh(settings: Settings, key: str) -> app.ApplicationSubmitted:
    return samples.submitted_now(f"{settings.namespace}-{key}", f"{settings.namespace}-vol-{key}")


async def test_every_bad_input_is_dead_lettered_with_a_reason_and_good_ones_around_it_are_applied(
    settings: Settings, observer: Observer
) -> None:
    before, after = _fresh(settings, "before-poison"), _fresh(settings, "after-poison")
    poison = list(bad_inputs(BAD))
    await produce(
        settings,
        [
            (settings.topic(Topic.APPLICATION_INTAKE), before.subject_id.encode(), encode(before)),
            *[(settings.topic(topic), key, value) for topic, key, _, value in poison],
            (settings.topic(Topic.APPLICATION_INTAKE), after.subject_id.encode(), encode(after)),
        ],
    )
    await observer.wait_for(app.ApplicationReceived, application_id=before.application_id)
    await observer.wait_for(app.ApplicationReceived, application_id=after.application_id)

    def dead() -> list[object]:
        return [r for topic, r in observer.seen if topic == Topic.DEAD_LETTER]

    await observer.wait_until(lambda: dead() if len(dead()) >= BAD else [], 60, f"{BAD} dead letters")  # type: ignore[arg-type, return-value]
    letters = [r for topic, r in observer.seen if topic == Topic.DEAD_LETTER]
    assert len(letters) == BAD
    assert {r.value for r in letters} == {value for *_, value in poison}  # type: ignore[attr-defined]
    for record in letters:
        headers = {name: raw.decode() for name, raw in record.headers}  # type: ignore[attr-defined]
        assert headers["origin-topic"].startswith(settings.namespace)
        assert headers["error-class"] == "ContractError"
        assert headers["error-reason"]
        assert "camille" not in headers["error-reason"].lower()


async def test_an_operator_lists_and_replays_a_dead_letter_to_its_origin(
    settings: Settings, observer: Observer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranded = _fresh(settings, "stranded")
    origin = settings.topic(Topic.APPLICATION_INTAKE)
    headers = [
        ("origin-topic", origin.encode()),
        ("error-class", b"AutoReconnect"),
        ("error-reason", b"db down"),
    ]
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    await producer.send_and_wait(
        settings.topic(Topic.DEAD_LETTER), encode(stranded), key=stranded.subject_id.encode(), headers=headers
    )
    await producer.stop()
    for name, value in service_environment(settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    listed = await asyncio.to_thread(runner.invoke, cli, ["dlq", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert "AutoReconnect" in listed.output

    replayed = await asyncio.to_thread(
        runner.invoke, cli, ["dlq", "replay", "--error-class", "AutoReconnect"], env={"COLUMNS": "250"}
    )
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1 messages" in replayed.output
    await observer.wait_for(app.ApplicationReceived, application_id=stranded.application_id)


async def test_facts_that_do_not_bind_to_their_sender_are_dead_lettered_with_the_reason(
    settings: Settings, observer: Observer
) -> None:
    """Each sent by the source's own principal, on the topic the broker lets it write: the services refuse
    what the sender may not assert, and the application's own facts around them are applied."""
    person = _fresh(settings, "forged")
    medical = samples.checklist(person)[1]
    host_as_volunteer = samples.answer(person, "pl-forged", Party.VOLUNTEER)
    without_id = msgspec.json.decode(encode(samples.withdrawal(person)))
    del without_id["event_id"]
    forged = [
        ("travel-agent", Topic.DEPARTURE_INTAKE_TRAVEL, person.subject_id, encode(medical), "event_type"),
        ("host", Topic.PLACEMENT_INTAKE, person.subject_id, encode(host_as_volunteer), "party"),
        ("portal", Topic.APPLICATION_INTAKE, "someone-else", encode(person), "Kafka key"),
        ("portal", Topic.APPLICATION_INTAKE, person.subject_id, msgspec.json.encode(without_id), "event_id"),
    ]
    for principal, topic, key, value, _ in forged:
        await produce(as_principal(settings, principal), [(settings.topic(topic), key.encode(), value)])
    await produce(
        as_principal(settings, "portal"),
        [(settings.topic(Topic.APPLICATION_INTAKE), person.subject_id.encode(), encode(person))],
    )
    await observer.wait_for(app.ApplicationReceived, application_id=person.application_id)

    values = {value for *_, value, _ in forged}

    def letters() -> list[dict[str, str]]:  # these inputs' letters (an earlier test's may still come)
        found = [r for topic, r in observer.seen if topic == Topic.DEAD_LETTER and r.value in values]  # type: ignore[attr-defined]
        return [{n: raw.decode() for n, raw in r.headers} for r in found]  # type: ignore[attr-defined]

    await observer.wait_until(
        lambda: letters() if len(letters()) >= len(forged) else [], 60, "4 dead letters"
    )  # type: ignore[arg-type, return-value]
    by_origin = {(h["origin-topic"], h["error-reason"]) for h in letters()}
    for _, topic, _, _, why in forged:
        assert any(origin == settings.topic(topic) and why in reason for origin, reason in by_origin), (
            why,
            by_origin,
        )
    assert len(letters()) == len(forged)
