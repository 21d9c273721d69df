"""Every event's `occurred_at` names its time zone and lies in the range of real missions, or is refused."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from shared.contracts.codec import ContractError, decode, encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from tests.examples import EXAMPLES

IDS = [event.event_type for _, event in EXAMPLES]


def _with_occurred_at(event: Event, value: str) -> bytes:
    body = msgspec.json.decode(encode(event))
    body["occurred_at"] = value
    return msgspec.json.encode(body)


@pytest.mark.parametrize(("topic", "event"), EXAMPLES, ids=IDS)
def test_every_event_refuses_an_occurred_at_without_a_time_zone(topic: Topic, event: Event) -> None:
    with pytest.raises(ContractError, match=r"time ?zone"):
        decode(topic, _with_occurred_at(event, "2026-03-01T09:00:00"))


@pytest.mark.parametrize(("topic", "event"), EXAMPLES, ids=IDS)
@pytest.mark.parametrize(
    "far",
    [
        "1899-12-31T23:59:59Z",
        "2101-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_every_event_refuses_an_occurred_at_out_of_range(topic: Topic, event: Event, far: str) -> None:
    with pytest.raises(ContractError, match="out of range"):
        decode(topic, _with_occurred_at(event, far))


@pytest.mark.parametrize(
    "edge", ["1900-01-01T00:00:00Z", "2100-12-31T23:59:59.999999Z", "2100-12-31T23:00:00-00:59"]
)
def test_an_occurred_at_on_the_edges_of_the_range_is_accepted(edge: str) -> None:
    topic, event = EXAMPLES[0]
    assert decode(topic, _with_occurred_at(event, edge)).occurred_at == dt.datetime.fromisoformat(edge)


def test_an_occurred_at_in_another_time_zone_keeps_its_moment() -> None:
    topic, event = EXAMPLES[0]
    decoded = decode(topic, _with_occurred_at(event, "2026-03-01T10:00:00+01:00"))
    assert decoded.occurred_at == dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)


def test_an_event_made_in_code_with_a_naive_occurred_at_is_refused() -> None:
    _, event = EXAMPLES[0]
    with pytest.raises(ValueError, match=r"time ?zone"):
        msgspec.structs.replace(event, occurred_at=dt.datetime(2026, 3, 1, 9))
