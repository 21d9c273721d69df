"""How a service logs: one line per record, in text for a person or JSON for a log collector.

A JSON line names the service and replica and, while a message is handled, where it came from (topic,
partition, offset), its event type and its trace id: enough to find the message, never its content. What
Envol logs is made of names and numbers, never a value from a message (tests/integration/
test_logs_keep_no_data.py), and the drivers' loggers are held at INFO, below which they write documents
and message bodies.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import msgspec
from opentelemetry import trace

FORMATS = ("text", "json")

# The drivers' loggers: at DEBUG, PyMongo logs whole commands and replies (documents, personal data
# included), aiokafka and FastStream log records and message bodies. They are held at INFO whatever
# ENVOL_LOG_LEVEL says, so no level ever writes a document or a message body to a log.
DRIVER_LOGGERS = ("pymongo", "aiokafka", "faststream", "confluent_kafka", "uvicorn")


class Handling(msgspec.Struct, frozen=True):
    """The message being handled, as a log line names it."""

    topic: str
    partition: int
    offset: int
    event_type: str


current_message: ContextVar[Handling | None] = ContextVar("current_message", default=None)


@contextmanager
def handling(topic: str, partition: int, offset: int, event_type: str) -> Iterator[None]:
    """Name the message being handled in every line logged meanwhile."""
    token = current_message.set(Handling(topic, partition, offset, event_type))
    try:
        yield
    finally:
        current_message.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, service, instance, and the message being
    handled with its trace id when there is one."""

    def __init__(self, service: str, instance: str) -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "instance": self.instance,
            "logger": record.name,
            "message": record.getMessage(),
        }
        message = current_message.get()
        if message is not None:
            line |= msgspec.to_builtins(message)
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line).decode()


def configure_logging(name: str, level: str, log_format: str = "text", instance: str = "") -> None:
    """Log at `level` for Envol's own loggers, the drivers' never below INFO; in text (one line per record,
    named by the service) or JSON lines."""
    if log_format not in FORMATS:
        raise ValueError(f"ENVOL_LOG_FORMAT={log_format!r} is not one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(name, instance))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    floor = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    for driver in DRIVER_LOGGERS:
        logging.getLogger(driver).setLevel(floor)
