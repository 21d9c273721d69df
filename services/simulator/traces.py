"""A span sink: the OTLP/HTTP endpoint of a trace collector, in this process, keeping what it receives.

The benchmark points the services at it to measure what tracing costs with the export really done, and
the end-to-end test reads back the spans of one lifecycle. Not a collector for anything else: it keeps
every span in memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class Span(msgspec.Struct, frozen=True):
    """What the sink keeps of a span."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    event_type: str  # of the message the span handled


class Sink:
    """The spans received so far, and the endpoint to send them to."""

    def __init__(self, endpoint: str, keep: bool) -> None:
        self.endpoint = endpoint
        self.keep = keep  # else only the exports are counted (the benchmark's sink, light on its process)
        self.exports = 0
        self.spans: list[Span] = []
        self.lock = threading.Lock()

    def received(self, body: bytes) -> None:
        with self.lock:
            self.exports += 1
        if not self.keep:
            return
        request = ExportTraceServiceRequest.FromString(body)
        found = []
        for resource in request.resource_spans:
            names = [a.value.string_value for a in resource.resource.attributes if a.key == "service.name"]
            for scope in resource.scope_spans:
                found += [_span(names[0] if names else "", span) for span in scope.spans]
        with self.lock:
            self.spans += found

    def of_trace(self, trace_id: str) -> list[Span]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]


def _span(service: str, span: Any) -> Span:
    event_types = [a.value.string_value for a in span.attributes if a.key == "envol.event_type"]
    return Span(
        service,
        span.name,
        span.trace_id.hex(),
        span.span_id.hex(),
        span.parent_span_id.hex(),
        event_types[0] if event_types else "",
    )


@contextmanager
def span_sink(keep: bool = True) -> Iterator[Sink]:
    """Listen on a free local port for OTLP/HTTP trace exports until the block ends; keep their spans, or
    only count the exports."""
    sink: Sink

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            sink.received(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per export would drown the benchmark's output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink = Sink(f"http://127.0.0.1:{server.server_address[1]}", keep)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
