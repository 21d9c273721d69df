"""Tracing: one volunteer's lifecycle is one connected trace across the four services, and no partner
message carries a trace context (the deterministic simulation drives the services' consume protocol)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing
from shared.contracts.topics import Topic
from tests.simulation.schedule import simulate

# The topic only each service consumes: a span on it was made by that service.
OWN_INTAKE = {
    "application": Topic.APPLICATION_INTAKE,
    "vetting": Topic.VETTING_INTAKE,
    "placement": Topic.PLACEMENT_INTAKE_PORTAL,  # the volunteer's answer (the host's topic is its own)
    "departure": Topic.DEPARTURE_INTAKE_TRAVEL,
}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)


def topic_of(span: ReadableSpan) -> str:
    return str((span.attributes or {})["messaging.destination.name"])


def test_each_volunteers_lifecycle_is_one_connected_trace_across_the_four_services(
    spans: InMemorySpanExporter,
) -> None:
    result = simulate(79)  # a schedule without faults
    assert result.ok and not result.faults
    finished = spans.get_finished_spans()
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in finished:
        by_trace.setdefault(span.context.trace_id, []).append(span)

    whole = tracing.lifecycle_root("vol-1")  # the volunteer of this schedule who arrives
    topics = {topic_of(span) for span in by_trace[whole.trace_id]}
    for service, intake in OWN_INTAKE.items():
        assert intake.value in topics, f"vol-1: no span of {service} ({intake}) in its trace"

    for trace_id, trace in by_trace.items():  # each subject's spans form one tree under its root
        assert len(parents_of(trace)) == 1, f"trace {trace_id:032x} has {len(parents_of(trace))} roots"
    assert parents_of(by_trace[whole.trace_id]) == {whole.span_id}
    continued = [s for s in by_trace[whole.trace_id] if s.parent and s.parent.span_id != whole.span_id]
    assert len(continued) > len(OWN_INTAKE), "the trace context was not carried from service to service"
    assert all(span.kind.name == "CONSUMER" for span in finished)


def parents_of(trace: list[ReadableSpan]) -> set[int]:
    """The spans a trace's spans descend from that are not in it (its root)."""
    ids = {span.context.span_id for span in trace}
    return {span.parent.span_id for span in trace if span.parent and span.parent.span_id not in ids}


def test_a_partner_message_carries_no_trace_context_and_an_internal_one_does(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.tracer.start_as_current_span("handling"):
        assert tracing.traceparent(Topic.PARTNER_PLACEMENT_UPDATES.value) == ""
        carried = tracing.traceparent(Topic.PLACEMENT_EVENTS.value)
    assert carried.startswith("00-") and len(carried.split("-")[1]) == 32


def test_a_traceparent_naming_another_trace_is_not_followed() -> None:
    mine, other = tracing.lifecycle_root("app-1"), tracing.lifecycle_root("app-2")
    forged = f"00-{other.trace_id:032x}-{other.span_id:016x}-01".encode()
    parent = tracing.parent_of("app-1", [("traceparent", forged)])
    found = tracing.trace.get_current_span(parent).get_span_context()
    assert (found.trace_id, found.span_id) == (mine.trace_id, mine.span_id)

    honest = f"00-{mine.trace_id:032x}-{12345:016x}-01".encode()
    followed = tracing.trace.get_current_span(tracing.parent_of("app-1", [("traceparent", honest)]))
    assert followed.get_span_context().span_id == 12345


def test_without_a_provider_no_span_is_made_and_no_context_is_carried() -> None:
    assert not tracing.enabled()
    with tracing.tracer.start_as_current_span("handling"):
        assert tracing.traceparent(Topic.PLACEMENT_EVENTS.value) == ""
