"""JSON log lines: a service's records as one JSON object each, naming the message being handled."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from shared import tracing
from shared.logs import configure_logging, handling

TOPIC = "envol.vetting.intake.screening"


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        tracing.use(None)


def lines_of(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_names_the_service_the_message_and_its_trace(
    root_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("vetting", "INFO", "json", "2")
    tracing.use(TracerProvider())
    log = logging.getLogger("envol.test")

    log.info("outside any message")
    with (
        tracing.consuming(TOPIC, "vol-9", "ScreeningReported", _Record()),
        handling(TOPIC, 1, 42, "ScreeningReported"),
    ):
        log.warning("while handling %d", 1)
    outside, inside = lines_of(stream)

    assert outside["service"] == "vetting" and outside["instance"] == "2" and outside["level"] == "INFO"
    assert (
        outside["message"] == "outside any message" and "topic" not in outside and "trace_id" not in outside
    )
    assert inside["message"] == "while handling 1" and inside["logger"] == "envol.test"
    assert (inside["topic"], inside["partition"], inside["offset"]) == (
        "envol.vetting.intake.screening",
        1,
        42,
    )
    assert inside["event_type"] == "ScreeningReported"
    assert inside["trace_id"] == format(tracing.lifecycle_root("vol-9").trace_id, "032x")


def test_text_stays_one_line_per_record_and_an_unknown_format_is_refused(
    root_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("placement", "INFO")
    logging.getLogger("envol.test").info("plain")
    assert stream.getvalue().rstrip().endswith("placement INFO envol.test: plain")
    with pytest.raises(ValueError, match="ENVOL_LOG_FORMAT='xml'"):
        configure_logging("placement", "INFO", "xml")


class _Record:
    partition, offset, headers = 1, 42, ()
