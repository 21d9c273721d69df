"""Records any client could write to any topic: bytes that are no event, and headers that are no text."""

from __future__ import annotations

from typing import Any

import msgspec
from aiokafka import ConsumerRecord

from shared import samples
from shared.contracts.codec import encode

# A withdrawal reason an operator's screen must show as written: markup, a link, an escape, a bidi override.
HOSTILE_REASON = "[/bold] [link=https://example.org]see[/link] \x1b[31mred \u202eesrever"
HOSTILE_HEADERS: list[tuple[str, bytes | None]] = [
    ("origin-topic", b"\xff\xfe[/bold]"),
    ("error-class", b"[link=https://example.org]X[/link]"),
    ("error-reason", None),
    ("origin-offset", b"\x1b[2J\xe9"),
]


def _body(**changes: object) -> bytes:
    event = samples.submitted("hostile-app", volunteer_fields={"volunteer_id": "hostile-vol"})
    body: dict[str, Any] = msgspec.json.decode(encode(event))
    return msgspec.json.encode(body | changes)


def hostile_values() -> list[tuple[str, bytes | None]]:
    """Return (kind, value) pairs, none of them an event of any topic."""
    return [
        (
            "invalid UTF-8 in a string",
            _body(application_id="PLACEHOLDER").replace(b"PLACEHOLDER", b"Ren\xe9"),
        ),
        ("not JSON", b"\x00\xff\xfe not json at all"),
        ("naive occurred_at", _body(occurred_at="2026-03-01T09:00:00")),
        ("occurred_at out of range", _body(occurred_at="9999-12-31T23:59:59Z")),
        ("wrong type", _body(application_id=7)),
        ("null value", None),
        ("empty value", b""),
        ("JSON array", b"[1, 2, 3]"),
        ("JSON string", b'"[/bold]"'),
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000),
        ("unknown event type", _body(event_type="[/bold]\u202e")),
    ]


def record(
    topic: str,
    value: bytes | None,
    *,
    offset: int = 0,
    key: bytes | None = None,
    headers: list[tuple[str, bytes | None]] | None = None,
    timestamp: int = 1_767_261_600_000,
) -> ConsumerRecord[Any, Any]:
    """Return a record as a consumer would yield it."""
    return ConsumerRecord(
        topic=topic, partition=0, offset=offset, timestamp=timestamp, timestamp_type=0, key=key, value=value,
        checksum=None, serialized_key_size=len(key or b""), serialized_value_size=len(value or b""),
        headers=headers or [],  # type: ignore[arg-type]
    )  # fmt: skip


def shows(output: str, text: str) -> bool:
    """Tell whether a command's output shows `text`, even folded across the lines of a table's column."""

    def flat(s: str) -> str:
        return "".join(char for char in s if not char.isspace() and char not in "│┃")

    return flat(text) in flat(output)


# How the hostile reason reads on an operator's screen: as written, every invisible character escaped.
HOSTILE_REASON_SHOWN = "[/bold] [link=https://example.org]see[/link] \\x1b[31mred \\u202eesrever"
