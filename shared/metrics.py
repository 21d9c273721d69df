"""Envol's own metrics, in one place: what each service counts beside FastStream's Prometheus middleware.

They live in prometheus-client's default registry (with the process collector: CPU, memory, open files),
served at `/metrics` by `shared.health`. Every label is a name from the code — a topic, an event type, an
error class, a stage — never a value from a message, so no personal data and no unbounded label set
reaches a metric. Prometheus adds which service and replica it scraped (`job`, `instance`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

PREFIX = "envol"
# no `_created` series beside each counter (a restart shows in process_start_time_seconds)
disable_created_metrics()  # type: ignore[no-untyped-call]

SERVICE = Gauge(f"{PREFIX}_service_info", "The service and replica this process runs (always 1)",
                ["service", "instance"])  # fmt: skip
MESSAGES = Counter(
    f"{PREFIX}_messages_consumed_total",
    "Consumed messages whose offset is committed (each applied or dead-lettered), by topic",
    ["topic"],
)
APPLIED = Counter(
    f"{PREFIX}_events_applied_total",
    "Events handled without being set aside (applied, or ignored as irrelevant), by event type",
    ["event_type"],
)
PUBLISHED = Counter(
    f"{PREFIX}_events_published_total", "Events published from an outbox, by topic and type",
    ["topic", "event_type"],
)  # fmt: skip
REFUSED = Counter(
    f"{PREFIX}_transitions_refused_total",
    "TransitionRefused events published: a fact that does not fit the volunteer's stage",
)
DEAD_LETTERS = Counter(
    f"{PREFIX}_dead_letters_total",
    "Messages set aside on the dead-letter topic, by origin topic and error class",
    ["topic", "error_class"],
)
RETRIES = Counter(
    f"{PREFIX}_retries_total", "Transient faults retried in place, by error class", ["error_class"]
)
PUBLISH_SECONDS = Histogram(
    f"{PREFIX}_outbox_publish_seconds",
    "From sending an outbox's events to every one acknowledged by the brokers",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
UNIT_MESSAGES = Histogram(
    f"{PREFIX}_unit_of_work_messages",
    "Messages of a batch applied in memory and saved in one bulk write (a unit of work)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
BATCH_MESSAGES = Histogram(
    f"{PREFIX}_batch_messages", "Messages consumed in one batch", buckets=(1, 5, 10, 25, 50, 100, 200, 500)
)
LAG = Gauge(
    f"{PREFIX}_consumer_lag",
    "Messages of a partition not consumed yet: the partition's end offset minus the next offset to consume",
    ["topic", "partition"],
)

STAGE = Gauge(
    f"{PREFIX}_volunteers",
    "Volunteers at each stage of this service's part of the lifecycle, counted in its database when scraped",
    ["stage"],
)


def event_type_of(value: bytes) -> str:
    """The `event_type` of an encoded event, read without decoding the whole body."""
    marker = b'"event_type":"'
    start = value.find(marker)
    if start < 0:
        return "unknown"
    start += len(marker)
    return value[start : value.find(b'"', start)].decode("ascii", "replace")


class _Off:
    """A metric that records nothing: what every metric becomes when metrics are switched off."""

    def labels(self, *values: str) -> _Off:
        return self

    def inc(self, amount: float = 1) -> None: ...

    def set(self, value: float) -> None: ...

    def observe(self, value: float) -> None: ...

    def remove(self, *values: str) -> None: ...

    def clear(self) -> None: ...

    @contextmanager
    def time(self) -> Iterator[None]:
        yield


OFF = _Off()
METRICS = ("SERVICE", "MESSAGES", "APPLIED", "PUBLISHED", "REFUSED", "DEAD_LETTERS", "RETRIES",
           "PUBLISH_SECONDS", "UNIT_MESSAGES", "BATCH_MESSAGES", "LAG", "STAGE")  # fmt: skip


def switch_off() -> None:
    """Record nothing from now on in this process (ENVOL_METRICS=false: the benchmark's cost baseline)."""
    module: dict[str, Any] = globals()
    for name in METRICS:
        module[name] = OFF
