"""The CLI as scripts need it: progress on stderr only (and only on a terminal), one line and an exit code
of its own for each way a command cannot do its work."""

from __future__ import annotations

import dataclasses
import io
import json
from collections import deque
from typing import Any

import pytest
from aiokafka import TopicPartition
from rich.console import Console
from typer.testing import CliRunner

from services.cli import app, output, reading
from services.cli.failures import ExitCode, ending
from services.cli.reading import Scan, read_all, reporting_scans
from shared import samples
from shared.contracts.codec import encode
from shared.contracts.topics import Topic
from shared.settings import Settings
from tests.hostile import record
from tests.read_model import keep_read_model

EVENTS = Settings().topic(Topic.APPLICATION_EVENTS)
INTAKE = Settings().topic(Topic.APPLICATION_INTAKE)
SUBMITTED = samples.submitted("app-p", volunteer_fields={"volunteer_id": "vol-p"})


def _log(topic: str, partition: int, offsets: range) -> list[Any]:
    value = encode(SUBMITTED)
    key = SUBMITTED.subject_id.encode()
    return [
        dataclasses.replace(record(topic, value, offset=n, key=key), partition=partition) for n in offsets
    ]


# Four partitions: one full, one whose start retention deleted, one empty, one emptied by retention.
LOGS = {
    TopicPartition(INTAKE, 0): (0, 5, _log(INTAKE, 0, range(5))),
    TopicPartition(INTAKE, 1): (10, 13, _log(INTAKE, 1, range(10, 13))),
    TopicPartition(EVENTS, 0): (0, 0, []),
    TopicPartition(EVENTS, 1): (7, 7, []),
}
TOTAL = 5 + 3


class FakeConsumer:
    """A consumer over `LOGS`, two records per partition and fetch, as aiokafka's would hand them out."""

    def __init__(self, *_: Any, **__: Any) -> None:
        self.fetches = deque(
            {partition: found[n : n + 2]}
            for partition, (_, _, found) in LOGS.items()
            for n in range(0, len(found), 2)
        )

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return set(LOGS)

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {partition: LOGS[partition][0] for partition in partitions}

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {partition: LOGS[partition][1] for partition in partitions}

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        assert self.fetches, "the scan asked for more after the end offsets it began with"
        return self.fetches.popleft()


@pytest.fixture
def fake_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    """The topics of `LOGS`, read by the real `reading.records` through a fake consumer."""
    monkeypatch.setattr(reading, "AIOKafkaConsumer", FakeConsumer)
    keep_read_model(monkeypatch)  # no snapshot: the commands fold these topics from their start
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")


@pytest.fixture
def terminal_stderr(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """A stderr that is a terminal: the progress bar draws on it (a test's own stderr is none)."""
    screen = io.StringIO()
    real = output.progress_bar
    monkeypatch.setattr(
        reading, "progress_bar", lambda what: real(what, Console(file=screen, force_terminal=True, width=100))
    )
    return screen


def test_a_scan_counts_the_offsets_between_start_and_end() -> None:
    full, trimmed, empty = (TopicPartition("t", n) for n in range(3))
    scan = Scan({full: 0, trimmed: 10, empty: 4}, {full: 5, trimmed: 13, empty: 4})
    assert (scan.read, scan.total, scan.remaining) == (0, 8, {full, trimmed})
    scan.reached(trimmed, 13)
    scan.reached(full, 9)  # records written since the scan began: yielded, never counted past the end
    assert (scan.read, scan.total, scan.remaining) == (8, 8, set())


async def test_the_progress_of_a_scan_reaches_its_total_and_nothing_is_printed(
    fake_topics: None, capsys: pytest.CaptureFixture[str]
) -> None:
    told: list[tuple[int, int]] = []
    with reporting_scans(lambda done, total: told.append((done, total))):
        seen = await read_all(Settings())
    assert len(seen) == TOTAL  # and the partitions emptied by retention did not keep it waiting
    assert told[0] == (0, TOTAL)
    assert told[-1] == (TOTAL, TOTAL)
    assert [done for done, _ in told] == sorted(done for done, _ in told)
    assert capsys.readouterr() == ("", "")


async def test_scans_outside_reporting_tell_no_one(fake_topics: None) -> None:
    told: list[tuple[int, int]] = []
    with reporting_scans(lambda done, total: told.append((done, total))):
        pass
    await read_all(Settings())
    assert told == []


def test_the_progress_bar_draws_on_a_terminal_stderr_and_never_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with output.progress_bar("reading topics", Console(stderr=True, force_terminal=True)) as progress:
        assert progress is not None
        progress(0, TOTAL)
        progress(TOTAL, TOTAL)
    printed = capsys.readouterr()
    assert printed.out == ""
    assert "reading topics" in printed.err and f"{TOTAL}/{TOTAL}" in printed.err


def test_no_progress_bar_when_stderr_is_no_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with output.progress_bar("reading topics") as progress:  # a test's stderr is no terminal
        assert progress is None
    assert capsys.readouterr() == ("", "")


def test_json_on_stdout_stays_clean_while_the_bar_draws_on_stderr(
    fake_topics: None, terminal_stderr: io.StringIO
) -> None:
    result = CliRunner().invoke(app.cli, ["status", "--json"])
    assert result.exit_code == ExitCode.OK, result.output
    assert json.loads(result.stdout) == {"stages": {"submitted": 1}, "total": 1}
    assert "reading topics" in terminal_stderr.getvalue()
    assert f"{TOTAL}/{TOTAL}" in terminal_stderr.getvalue()


def test_the_help_lists_the_exit_codes() -> None:
    result = CliRunner().invoke(app.cli, ["--help"])
    assert result.exit_code == ExitCode.OK
    flat = " ".join(result.output.replace("│", " ").split())
    for code in ("0 done", "1 nothing found", "2 usage", "3 a setting is wrong", "4 Kafka or MongoDB"):
        assert code in flat


def _ended(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    """Run `envol ARGV` as its console script does; return its exit code and what it printed on stdout and
    stderr."""
    monkeypatch.setattr("sys.argv", ["envol", *argv])
    with pytest.raises(SystemExit) as ended:
        app.main()
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    return int(ended.value.code or 0), printed.out, printed.err


@pytest.fixture
def sasl_ssl(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The local stack's protocol with an operator's credentials, toward the discard port (no server)."""
    for variable in ("ENVOL_KAFKA_PASSWORDS", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE", "MONGODB_USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_USERNAME", "operator")
    monkeypatch.setenv("KAFKA_PASSWORD", "x")
    keep_read_model(monkeypatch)  # no snapshot: the commands go straight to the topics
    return monkeypatch


@pytest.mark.parametrize("command", [["status"], ["timeline", "vol-1", "--json"], ["dlq", "list"], ["audit"]])
def test_a_missing_ca_file_is_a_configuration_error_naming_the_setting(
    sasl_ssl: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any, command: list[str]
) -> None:
    missing = tmp_path / "ca.pem"
    sasl_ssl.setenv("KAFKA_SSL_CAFILE", str(missing))
    code, _, err = _ended(sasl_ssl, capsys, *command)
    assert code == ExitCode.CONFIGURATION == 3
    assert err == (
        f"envol: configuration error: KAFKA_SSL_CAFILE={missing} cannot be read (No such file or directory)\n"
    )


def test_a_ca_file_that_holds_no_certificate_is_a_configuration_error(
    sasl_ssl: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    sasl_ssl.setenv("KAFKA_SSL_CAFILE", str(garbage))
    code, _, err = _ended(sasl_ssl, capsys, "status")
    assert code == ExitCode.CONFIGURATION
    assert err.startswith(f"envol: configuration error: KAFKA_SSL_CAFILE={garbage} holds no CA certificate")
    assert err.count("\n") == 1


def test_an_unreadable_passwords_file_is_a_configuration_error_naming_the_setting(
    sasl_ssl: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    sasl_ssl.delenv("KAFKA_PASSWORD")
    sasl_ssl.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    sasl_ssl.setenv("ENVOL_KAFKA_PASSWORDS", str(tmp_path / "kafka-passwords"))
    code, _, err = _ended(sasl_ssl, capsys, "status", "--json")
    assert code == ExitCode.CONFIGURATION
    assert err == "envol: configuration error: ENVOL_KAFKA_PASSWORDS cannot be read (FileNotFoundError)\n"


def test_an_unknown_protocol_is_a_configuration_error(
    sasl_ssl: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sasl_ssl.setenv("KAFKA_SECURITY_PROTOCOL", "TLS")
    code, _, err = _ended(sasl_ssl, capsys, "status")
    assert code == ExitCode.CONFIGURATION
    assert "KAFKA_SECURITY_PROTOCOL='TLS' is not one of" in err


def test_a_broker_out_of_reach_has_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    code, _, err = _ended(monkeypatch, capsys, "dlq", "list", "--json")
    assert code == ExitCode.UNREACHABLE == 4
    assert err.splitlines()[-1].startswith("envol: KafkaConnectionError")


def test_a_usage_error_exits_2_as_typer_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _ended(monkeypatch, capsys, "timeline")
    assert code == ExitCode.USAGE == 2
    assert "Missing argument" in err


def test_nothing_found_exits_1(
    fake_topics: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _ended(monkeypatch, capsys, "timeline", "nobody", "--json")
    assert code == ExitCode.FAILED == 1
    assert (out, err) == ("[]\n", "")


def test_a_bug_keeps_its_traceback_and_a_folder_that_cannot_be_written_is_no_setting() -> None:
    tls = Settings(kafka_security_protocol="SASL_SSL")
    assert ending(RuntimeError("a bug"), tls) is None
    assert ending(PermissionError(13, "Permission denied", "docs"), tls) is None
    assert ending(FileNotFoundError(2, "No such file"), Settings()) is None  # PLAINTEXT: no TLS file read


def test_a_principal_refused_by_the_broker_is_told_it_is_not_granted_not_that_the_broker_is_unreachable() -> (
    None
):
    from aiokafka.errors import (
        GroupAuthorizationFailedError,
        KafkaConnectionError,
        TopicAuthorizationFailedError,
    )

    operator = Settings(kafka_username="operator")
    for error in (TopicAuthorizationFailedError(), GroupAuthorizationFailedError()):
        ended = ending(error, operator)
        assert ended is not None and ended.code == ExitCode.CONFIGURATION
        assert "refused operator" in ended.line and "not granted" in ended.line
    unreachable = ending(KafkaConnectionError("no broker"), operator)
    assert unreachable is not None and unreachable.code == ExitCode.UNREACHABLE
