"""Operators see a volunteer's timeline and the stage counts from the real topics, whatever they hold."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from typer.testing import CliRunner, Result

from services.cli.app import cli
from services.simulator.processes import service_environment
from shared import samples
from shared.admin import ensure_topics
from shared.contracts import application as app
from shared.contracts import vetting as vet
from shared.contracts.codec import encode
from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.settings import Settings
from tests.e2e.test_lifecycle import send
from tests.hostile import HOSTILE_HEADERS, HOSTILE_REASON, HOSTILE_REASON_SHOWN, hostile_values, shows
from tests.observer import Observer

Headers = list[tuple[str, bytes | None]]


async def test_timeline_and_status_show_where_volunteers_stand(
    settings: Settings, observer: Observer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = settings.namespace
    refused = samples.submitted(
        f"{run}-cli-x", volunteer_fields={"volunteer_id": f"{run}-vol-x", "birth_date": dt.date(1980, 1, 1)}
    )
    await send(settings, refused, *samples.all_screenings(refused))
    await observer.wait_for(vet.VettingRefused, application_id=refused.application_id)
    for name, value in service_environment(settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    timeline = await asyncio.to_thread(
        runner.invoke, cli, ["timeline", f"{run}-vol-x"], env={"COLUMNS": "200"}
    )
    assert timeline.exit_code == 0, timeline.output
    for event_type in ("ApplicationSubmitted", "ApplicationReceived", "VettingRefused"):
        assert event_type in timeline.output
    assert "Durand" not in timeline.output  # no personal data on the operator's screen

    status = await asyncio.to_thread(runner.invoke, cli, ["status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output
    assert "vetting refused" in status.output

    unknown = await asyncio.to_thread(runner.invoke, cli, ["timeline", f"{run}-nobody"])
    assert unknown.exit_code == 1

    as_json = await asyncio.to_thread(runner.invoke, cli, ["timeline", f"{run}-vol-x", "--json"])
    assert "VettingRefused" in [e["event_type"] for e in json.loads(as_json.stdout)]
    lag = await asyncio.to_thread(runner.invoke, cli, ["lag", "--json"])
    assert lag.exit_code == 0, lag.output
    rows = json.loads(lag.stdout)
    assert {row["service"] for row in rows} == {"application", "vetting", "placement", "departure"}
    assert all(row["lag"] == row["end"] - max(0, row["committed"]) >= 0 for row in rows)
    assert any(row["topic"] == settings.topic(Topic.APPLICATION_INTAKE) for row in rows)


def _own(settings: Settings, tag: str) -> Settings:
    """The same servers, in a namespace of this test's own that no service process listens to."""
    return msgspec.structs.replace(settings, namespace=f"{settings.namespace}-{tag}")


async def _write(
    settings: Settings, messages: list[tuple[Topic, bytes | None, bytes | None, Headers]]
) -> None:
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for topic, key, value, headers in messages:
            await producer.send_and_wait(settings.topic(topic), value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _ends(*namespaces: Settings) -> dict[str, int]:
    """Return how many records each topic of the namespaces holds (its partitions' end offsets, summed)."""
    consumer = AIOKafkaConsumer(**client_options(namespaces[0]))
    await consumer.start()
    try:
        names = [ns.topic(topic) for ns in namespaces for topic in Topic]
        partitions = [  # as ensure_topics made them
            TopicPartition(ns.topic(topic), p)
            for ns in namespaces
            for topic in Topic
            for p in range(ns.topic_partitions)
        ]
        ends = await consumer.end_offsets(partitions)
        return {name: sum(n for tp, n in ends.items() if tp.topic == name) for name in names}
    finally:
        await consumer.stop()


def _invoke(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=service_environment(settings))


async def test_hostile_bytes_on_every_topic_leave_the_operators_tools_working(settings: Settings) -> None:
    own = _own(settings, "hostile")
    await ensure_topics(own)
    submitted = samples.submitted_now(f"{own.namespace}-h", f"{own.namespace}-vol-h")
    withdrawn = app.ApplicationWithdrawn(
        subject_id=submitted.subject_id, producer="application", application_id=submitted.application_id,
        reason=HOSTILE_REASON, occurred_at=submitted.occurred_at,
    )  # fmt: skip
    hostile = [
        (topic, None if value else b"\xff[/bold]", value, HOSTILE_HEADERS)  # no key, unless there is no value
        for topic in Topic
        for _, value in hostile_values()
    ]
    await _write(
        own,
        [
            (Topic.APPLICATION_INTAKE, b"k", encode(submitted), []),
            *hostile,
            (Topic.APPLICATION_EVENTS, b"k", encode(withdrawn), []),
        ],
    )

    status = await asyncio.to_thread(_invoke, own, "status")
    assert status.exit_code == 0, status.output
    assert "withdrawn" in status.output
    timeline = await asyncio.to_thread(_invoke, own, "timeline", submitted.subject_id)
    assert timeline.exit_code == 0, timeline.output
    assert shows(timeline.output, HOSTILE_REASON_SHOWN)
    for command in (["audit"], ["dlq", "list"]):
        result = await asyncio.to_thread(_invoke, own, *command)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "\x1b" not in result.output and "\u202e" not in result.output


async def test_replay_refuses_forged_dead_letters_and_a_dry_run_writes_nothing(settings: Settings) -> None:
    own, elsewhere = _own(settings, "forged"), _own(settings, "elsewhere")
    await ensure_topics(own)
    await ensure_topics(elsewhere)
    event = samples.submitted_now(f"{own.namespace}-f", f"{own.namespace}-vol-f")

    def letter(origin: str) -> tuple[Topic, bytes, bytes, Headers]:
        headers: Headers = [("origin-topic", origin.encode()), ("error-class", b"Forged")]
        return Topic.DEAD_LETTER, event.subject_id.encode(), encode(event), headers

    await _write(
        own,
        [
            letter(own.topic(Topic.APPLICATION_INTAKE)),  # the one honest letter
            letter(own.topic(Topic.APPLICATION_EVENTS)),
            letter(own.topic(Topic.DEAD_LETTER)),
            letter(elsewhere.topic(Topic.APPLICATION_INTAKE)),
            letter("envol.unheard-of"),
        ],
    )
    before = await _ends(own, elsewhere)

    dry = await asyncio.to_thread(_invoke, own, "dlq", "replay", "--error-class", "Forged", "--dry-run")
    assert dry.exit_code == 1, dry.output  # something is refused
    assert "would replay 1 messages (dry run: nothing written)" in dry.output
    assert await _ends(own, elsewhere) == before

    real = await asyncio.to_thread(_invoke, own, "dlq", "replay", "--error-class", "Forged")
    assert real.exit_code == 1, real.output
    assert "replayed 1 messages" in real.output
    for why in (
        "envol.application.events is not an",
        "envol.dead-letter is not an",
        "another namespace",
        "not a topic",
    ):
        assert shows(real.output, why)
    intake = own.topic(Topic.APPLICATION_INTAKE)
    assert await _ends(own, elsewhere) == before | {intake: before[intake] + 1}
