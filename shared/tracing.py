"""Tracing with OpenTelemetry: one volunteer's lifecycle is one trace, across the four services.

Each consumed message is handled in a span of its own (`<topic> process`, kind CONSUMER). The events it
makes carry that span's context in a W3C `traceparent` header, kept with them in the outbox so a
republication after a crash carries it too; the service that consumes them continues the trace.

A lifecycle is made of several outside facts (the application, the screening, the host's answer, the visa
and travel facts), and no outside source sends Envol a trace context it could trust. So the trace id is
the subject's: every span about one volunteer descends from a root derived from its subject id, and a
fact from outside starts from that root. A `traceparent` is honoured only when it names the subject's own
trace, so a hostile header cannot join a message to another volunteer's trace. The partner topic carries
no trace context at all: it would link a partner's messages to the internal topics.

FastStream's OpenTelemetry middleware traces a consumed batch as one span, which mixes volunteers; hence
a span per message here, made with the OpenTelemetry API. Off by default (the API's no-op tracer, and no
span is started); `OTEL_EXPORTER_OTLP_ENDPOINT` turns on the export to an OTLP/HTTP collector.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from shared.contracts.topics import PARTNER_TOPICS, Topic
from shared.settings import Settings

tracer = trace.get_tracer("envol")
# topics that never carry a trace context: the partners'
UNTRACED = frozenset({Topic.PARTNER_PLACEMENT_UPDATES.value, *PARTNER_TOPICS})

_enabled = False
_exporting: Any | None = None  # the provider that configure_tracing made, flushed by `stop_exporting`


def enabled() -> bool:
    """Whether spans are made in this process (tracing configured, or a test's provider installed)."""
    return _enabled


def use(provider: Any | None) -> None:
    """Make spans with `provider` (an SDK TracerProvider; a test gives one with an in-memory exporter), or
    none (None: tracing off)."""
    global _enabled, tracer
    tracer = (provider or trace).get_tracer("envol")
    _enabled = provider is not None


def configure_tracing(service: str, settings: Settings) -> None:
    """Export spans by OTLP/HTTP when an endpoint is set; otherwise leave tracing off."""
    if not settings.otlp_endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {"service.name": f"envol-{service}", "service.instance.id": settings.replica()}
    )
    provider = TracerProvider(resource=resource)
    endpoint = f"{settings.otlp_endpoint.rstrip('/')}/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    use(provider)
    global _exporting
    _exporting = provider


async def stop_exporting() -> None:
    """Export the spans still batched, then stop (a service's last step). The SDK's own exit hook is not
    enough: a process ended by a signal, as uvicorn ends itself after a SIGTERM, never runs it."""
    global _exporting
    if _exporting is not None:
        provider, _exporting = _exporting, None
        await asyncio.to_thread(provider.shutdown)


def lifecycle_root(subject_id: str) -> SpanContext:
    """The trace of one subject (a volunteer, or an opening): ids derived from its id, the same in every
    service."""
    digest = hashlib.sha256(f"envol-trace|{subject_id}".encode()).digest()
    return SpanContext(
        trace_id=int.from_bytes(digest[:16], "big") or 1,
        span_id=int.from_bytes(digest[16:24], "big") or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def parent_of(subject_id: str, headers: Iterable[tuple[str, bytes]]) -> Context:
    """The context a message's span continues: its `traceparent` if it names the subject's trace, else the
    subject's root."""
    root = lifecycle_root(subject_id)
    carrier = {name: value.decode("latin-1") for name, value in headers if name == "traceparent"}
    if carrier:
        sent = trace.get_current_span(propagate.extract(carrier)).get_span_context()
        if sent.is_valid and sent.trace_id == root.trace_id:
            return trace.set_span_in_context(NonRecordingSpan(sent))
    return trace.set_span_in_context(NonRecordingSpan(root))


@contextmanager
def consuming(topic: str, subject_id: str, event_type: str, record: Any) -> Iterator[None]:
    """Handle a message within its span (nothing when tracing is off)."""
    if not _enabled:
        yield
        return
    attributes = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
        "envol.event_type": event_type,
    }
    parent = parent_of(subject_id, getattr(record, "headers", None) or ())
    with tracer.start_as_current_span(
        f"{topic} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ):
        yield


def traceparent(topic: str) -> str:
    """The W3C `traceparent` of the current span, for an event made now for `topic` ("" when there is no
    span, or the topic carries none)."""
    if not _enabled or topic in UNTRACED:
        return ""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")
