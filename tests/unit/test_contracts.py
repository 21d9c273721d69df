"""Every contract encodes, decodes back equal, exports a schema, and refuses bad bytes with one error."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from shared.contracts.codec import MAX_MESSAGE_BYTES, UNION_OF_TOPIC, ContractError, decode, encode, events_of
from shared.contracts.reasons import REASON_CODES
from shared.contracts.schema import schemas
from shared.contracts.topics import Topic
from tests.examples import EXAMPLES


def test_every_event_of_every_topic_has_an_example() -> None:
    expected = {(topic, cls) for topic in UNION_OF_TOPIC for cls in events_of(topic)}
    assert {(topic, type(event)) for topic, event in EXAMPLES} == expected


@pytest.mark.parametrize(("topic", "event"), EXAMPLES, ids=lambda x: getattr(x, "event_type", str(x)))
def test_every_event_round_trips_through_its_topic(topic: Topic, event: msgspec.Struct) -> None:
    assert decode(topic, encode(event)) == event  # type: ignore[arg-type]


def test_every_topic_exports_a_json_schema_naming_each_event() -> None:
    exported = schemas()
    for topic in UNION_OF_TOPIC:
        schema = exported[topic]
        assert set(schema["$defs"]) >= {cls.__name__ for cls in events_of(topic)}  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "JSON is malformed"),
        (b"", "empty message"),
        (b"{}", "missing required field `event_type`"),
        (b'{"event_type": "Unheard"}', "Invalid value"),
        (b'{"event_type": "WithdrawalRequested", "application_id": 7}', "Expected `str`"),
        (b"[" * 10_000 + b"]" * 10_000, "Expected `object`"),
        (b" " * (MAX_MESSAGE_BYTES + 1), "exceeds"),
    ],
)
def test_bad_bytes_raise_the_contract_error(data: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        decode(Topic.APPLICATION_INTAKE, data)


def test_an_oversized_field_is_refused() -> None:
    topic, event = EXAMPLES[0]
    data = msgspec.json.decode(encode(event))  # type: ignore[arg-type]
    data["application_id"] = "a" * 65
    with pytest.raises(ContractError, match="application_id"):
        decode(topic, msgspec.json.encode(data))


def test_an_unknown_field_is_refused() -> None:
    topic, event = EXAMPLES[0]
    data = msgspec.json.decode(encode(event))  # type: ignore[arg-type]
    data["criminal_record"] = "none"
    with pytest.raises(ContractError, match="unknown field"):
        decode(topic, msgspec.json.encode(data))


def test_the_contracts_page_lists_exactly_the_reason_codes_the_services_may_state() -> None:
    page = Path(__file__).parents[2] / "docs" / "contracts.md"
    section = page.read_text().split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[2] for line in section.splitlines() if line.startswith("| ") and "`" in line]
    listed = {code for row in rows for code in re.findall(r"`([a-z:-]+)`", row)}
    assert sorted(listed - REASON_CODES) == [] and sorted(REASON_CODES - listed) == []
