"""The benchmark's hop latencies, from records as the topics hold them."""

from __future__ import annotations

import datetime as dt

import pytest

from services.cli.reading import Seen
from services.simulator.latency import percentiles, relay_hops, system_hops
from shared import samples
from shared.contracts.application import ApplicationRejected
from shared.contracts.envelope import Event, caused_by
from shared.contracts.topics import Topic

T0 = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def seen(topic: Topic, event: Event | None, after_ms: int) -> Seen:
    return Seen(topic, 0, 0, T0 + dt.timedelta(milliseconds=after_ms), None, event)


def test_a_system_hop_runs_from_the_cause_record_to_the_event_it_caused() -> None:
    submitted = samples.submitted("app-1")
    received = ApplicationRejected(
        **caused_by(submitted, "application"), application_id="app-1", reasons=("incomplete",)
    )
    records = [
        seen(Topic.APPLICATION_INTAKE, submitted, 0),
        seen(Topic.APPLICATION_EVENTS, received, 12),
        seen(Topic.DEAD_LETTER, None, 20),
    ]
    assert system_hops(records) == [pytest.approx(0.012)]


def test_an_outside_fact_or_an_event_whose_cause_is_not_on_the_topics_is_not_a_hop() -> None:
    submitted = samples.submitted("app-1")
    received = ApplicationRejected(
        **caused_by(submitted, "application"), application_id="app-1", reasons=("incomplete",)
    )
    assert system_hops([seen(Topic.APPLICATION_INTAKE, submitted, 0)]) == []
    assert system_hops([seen(Topic.APPLICATION_EVENTS, received, 5)]) == []


def test_relay_hops_pair_each_key_with_its_record_one_hop_further() -> None:
    hops = [{b"a": 1.0, b"b": 2.0}, {b"a": 1.5, b"b": 2.25}, {b"a": 1.75}]
    assert sorted(relay_hops(hops)) == [0.25, 0.25, 0.5]


def test_percentiles_of_a_hundred_values_and_of_none() -> None:
    figures = percentiles(float(n) for n in range(1, 101))
    assert figures["p50"] == pytest.approx(50.5) and figures["p99"] == pytest.approx(99.01)
    assert percentiles([]) == {}
    assert percentiles([3.0]) == {"p50": 3.0, "p95": 3.0, "p99": 3.0}
