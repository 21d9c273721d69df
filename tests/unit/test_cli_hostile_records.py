"""Operators' tools survive any bytes on any topic: what is no event reads as undecodable, no traceback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from typer.testing import CliRunner

from services.cli import audit as audit_module
from services.cli import reading
from services.cli.app import cli
from services.cli.audit import audit
from services.cli.deadletters import as_dead_letter
from services.cli.reading import EPOCH, as_seen, read_all
from services.cli.stages import stages
from shared import samples
from shared.contracts.application import ApplicationWithdrawn
from shared.contracts.codec import encode
from shared.contracts.topics import Topic
from shared.settings import Settings
from tests.hostile import HOSTILE_HEADERS, HOSTILE_REASON, HOSTILE_REASON_SHOWN, hostile_values, record, shows
from tests.read_model import keep_read_model

SUBMITTED = samples.submitted("app-h", volunteer_fields={"volunteer_id": "vol-h"})
WITHDRAWN = ApplicationWithdrawn(
    subject_id="vol-h", producer="application", application_id="app-h", reason=HOSTILE_REASON
)


def _topics() -> list[ConsumerRecord[Any, Any]]:
    """Every hostile value on every topic, with hostile headers and no key, around two valid events."""
    found = [record(Topic.APPLICATION_INTAKE, encode(SUBMITTED), key=b"vol-h")]
    for topic in Topic:
        for n, (_, value) in enumerate(hostile_values(), start=1):
            found.append(record(topic, value, offset=n, headers=HOSTILE_HEADERS))
    later = found[0].timestamp + 1000
    found.append(
        record(Topic.APPLICATION_EVENTS, encode(WITHDRAWN), offset=99, key=b"vol-h", timestamp=later)
    )
    return found


@pytest.fixture
def hostile_topics(monkeypatch: pytest.MonkeyPatch) -> list[ConsumerRecord[Any, Any]]:
    """The topics, read in memory: `reading.records` yields the hostile records instead of a broker's."""
    written = _topics()

    async def records(_: Settings, __: Sequence[str], **___: Any) -> AsyncIterator[Any]:
        for item in written:
            yield item

    async def nothing(_: Settings) -> dict[str, int]:
        return {}

    async def no_one(_: Settings) -> list[Any]:
        return []  # nobody erased

    monkeypatch.setattr(reading, "records", records)
    keep_read_model(monkeypatch)  # no snapshot: the commands fold these topics from their start
    monkeypatch.setattr(audit_module, "lag", nothing)
    monkeypatch.setattr(audit_module, "log_starts", nothing)
    monkeypatch.setattr(audit_module, "occupancy", nothing)
    monkeypatch.setattr(audit_module, "erased_volunteers", no_one)
    return written


async def test_only_the_valid_events_among_hostile_records_decode(hostile_topics: list[Any]) -> None:
    seen = await read_all(Settings())
    assert len(seen) == len(hostile_topics)
    assert [s.event for s in seen if s.event is not None] == [SUBMITTED, WITHDRAWN]


async def test_stages_fold_the_valid_events_and_skip_the_rest(hostile_topics: list[Any]) -> None:
    events = [s.event for s in await read_all(Settings()) if s.event is not None]
    assert stages(events) == {"app-h": "x withdrawn"}


async def test_the_audit_reads_hostile_records_and_blames_the_dead_letters_without_headers(
    hostile_topics: list[Any],
) -> None:
    report = await audit(Settings())
    verdicts = {check.name: check.ok for check in report.checks}
    assert report.records == len(hostile_topics)
    assert verdicts["no personal data on the partner topics"]
    assert verdicts["order kept per volunteer"]
    assert not verdicts["every dead letter says where from and why"]  # a null error-reason explains nothing


def test_a_record_time_no_calendar_holds_reads_as_the_epoch() -> None:
    seen = as_seen(Settings(), record(Topic.APPLICATION_INTAKE, b"x", timestamp=2**62))
    assert seen.timestamp == EPOCH


def test_a_dead_letter_with_null_and_invalid_header_values_is_read() -> None:
    letter = as_dead_letter(0, 7, None, None, HOSTILE_HEADERS)
    assert letter.origin_topic == "\ufffd\ufffd[/bold]"
    assert letter.reason == ""
    assert letter.value == b""


@pytest.mark.parametrize(
    "command",
    [["status"], ["timeline", "vol-h"], ["watch"], ["audit"], ["dlq", "list"], ["dlq", "show", "0:1"]],
    ids=" ".join,
)
def test_every_operator_command_survives_hostile_records(
    hostile_topics: list[Any], command: list[str]
) -> None:
    result = CliRunner().invoke(cli, command)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output


@pytest.mark.parametrize("command", [["timeline", "vol-h"], ["watch"]], ids=" ".join)
def test_a_reason_with_markup_is_printed_as_written(hostile_topics: list[Any], command: list[str]) -> None:
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    assert shows(result.output, HOSTILE_REASON_SHOWN)


def test_a_dead_letter_with_hostile_headers_is_listed_as_written(hostile_topics: list[Any]) -> None:
    result = CliRunner().invoke(cli, ["dlq", "list"])
    assert result.exit_code == 0, result.output
    assert shows(result.output, "[link=https://example.org]X[/link]")
    assert shows(result.output, "\ufffd\ufffd[/bold]")


JSON_COMMANDS = [["status"], ["timeline", "vol-h"], ["timeline", "--sensitive", "vol-h"], ["audit"],
                 ["dlq", "list"], ["dlq", "show", "0:1"]]  # fmt: skip


@pytest.mark.parametrize("command", JSON_COMMANDS, ids=" ".join)
def test_json_output_of_hostile_records_is_valid_json_and_pure_ascii(
    hostile_topics: list[Any], command: list[str]
) -> None:
    result = CliRunner().invoke(cli, [*command, "--json"])
    assert result.exit_code in (0, 1), result.output
    [line] = result.stdout.splitlines()
    json.loads(line)
    assert all(" " <= char <= "~" for char in line), "a character other than printable ASCII was printed"


def test_json_keeps_what_was_written_exactly(hostile_topics: list[Any]) -> None:
    timeline = json.loads(CliRunner().invoke(cli, ["timeline", "--sensitive", "vol-h", "--json"]).stdout)
    assert [item["event_type"] for item in timeline] == ["ApplicationSubmitted", "ApplicationWithdrawn"]
    assert HOSTILE_REASON in timeline[1]["details"]  # escaped in the JSON text, the same once decoded
    letters = json.loads(CliRunner().invoke(cli, ["dlq", "list", "--json"]).stdout)
    assert {
        "error_class": "[link=https://example.org]X[/link]",
        "origin_topic": "\ufffd\ufffd[/bold]",
    }.items() <= (letters[0].items())
    counts = json.loads(CliRunner().invoke(cli, ["status", "--json"]).stdout)
    assert counts == {"stages": {"withdrawn": 1}, "total": 1}


def test_a_timeline_shows_an_event_published_again_once_and_every_copy_when_asked(
    hostile_topics: list[Any],
) -> None:
    later = hostile_topics[-1].timestamp + 1000  # the withdrawal again, as an outbox sends it after a crash
    hostile_topics.append(
        record(Topic.APPLICATION_EVENTS, encode(WITHDRAWN), offset=100, key=b"vol-h", timestamp=later)
    )

    def types(*flags: str) -> list[str]:
        shown = json.loads(CliRunner().invoke(cli, ["timeline", "vol-h", "--json", *flags]).stdout)
        return [item["event_type"] for item in shown]

    assert types() == ["ApplicationSubmitted", "ApplicationWithdrawn"]
    assert types("--copies") == ["ApplicationSubmitted", "ApplicationWithdrawn", "ApplicationWithdrawn"]
