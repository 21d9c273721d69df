"""Tracing across the four service processes: one volunteer's lifecycle, application to arrival, is one
connected trace, exported by OTLP/HTTP to a collector (a span sink in the test)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest

from services.simulator import chaos
from services.simulator.processes import ServiceProcesses
from services.simulator.traces import Sink, span_sink
from shared import samples
from shared.contracts import departure as dep
from shared.settings import Settings
from shared.tracing import lifecycle_root
from tests.e2e.test_lifecycle import accept, send
from tests.observer import Observer

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with span_sink() as found:
        yield found


@pytest.fixture
async def traced(settings: Settings, sink: Sink, tmp_path: Path) -> AsyncIterator[Settings]:
    """The four services in a namespace of their own, exporting their spans to the sink."""
    run = f"{settings.namespace}t{uuid.uuid4().hex[:6]}"
    traced = msgspec.structs.replace(
        settings, namespace=run, database_prefix=run, otlp_endpoint=sink.endpoint
    )
    processes: ServiceProcesses = await chaos.prepare(traced, tmp_path)
    try:
        yield traced
    finally:
        processes.stop()  # a stopped service exports the spans it still holds


async def test_one_lifecycle_is_one_connected_trace_across_the_four_service_processes(
    traced: Settings, sink: Sink
) -> None:
    run = traced.namespace
    opening = samples.opening(f"{run}-traced", seats=1)
    application = samples.submitted(f"{run}-traced", volunteer_fields={"volunteer_id": f"{run}-vol-t"})
    async with Observer(traced) as seen:
        await send(traced, samples.published(opening), application, *samples.all_screenings(application))
        await accept(traced, seen, application)
        await send(traced, *samples.checklist(application))
        await seen.wait_for(dep.DepartureScheduled, application_id=application.application_id)
        await send(traced, samples.departed(application), samples.arrived(application))
        await seen.wait_for(dep.ArrivalConfirmed, application_id=application.application_id)

    root = lifecycle_root(application.volunteer.volunteer_id)
    trace_id, root_id = format(root.trace_id, "032x"), format(root.span_id, "016x")
    services = {f"envol-{name}" for name in ("application", "vetting", "placement", "departure")}
    for _ in range(60):  # the services export in batches, every few seconds
        spans = sink.of_trace(trace_id)
        if {span.service for span in spans} == services and any(
            s.event_type == "ArrivalConfirmed" for s in spans
        ):
            break
        await asyncio.sleep(0.5)
    spans = sink.of_trace(trace_id)
    per_service = Counter(span.service for span in spans)
    assert set(per_service) == services, f"spans per service: {dict(per_service)}"

    ids = {span.span_id for span in spans} | {root_id}
    orphans = [f"{span.service}: {span.name}" for span in spans if span.parent_id not in ids]
    assert not orphans, f"spans whose parent is not in the lifecycle's trace: {orphans}"
    continued = [span for span in spans if span.parent_id != root_id]
    assert continued, "no span continues another service's: the trace context was not carried"
    print(f"one lifecycle: {len(spans)} spans, {dict(sorted(per_service.items()))}")
