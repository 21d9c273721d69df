"""Bad inputs of every kind an outside system can send: not JSON, wrong types, unknown events, too big."""

from __future__ import annotations

import random
from collections.abc import Iterator

import msgspec

from shared import samples
from shared.contracts.codec import MAX_MESSAGE_BYTES, encode
from shared.contracts.topics import INTAKES, Topic


def _valid(n: int) -> dict[str, object]:
    event = samples.submitted(f"poison-{n}", volunteer_fields={"volunteer_id": f"poison-vol-{n}"})
    body: dict[str, object] = msgspec.json.decode(encode(event))
    return body


def _kinds(n: int, rng: random.Random) -> list[tuple[str, bytes]]:
    body = _valid(n)
    return [
        ("not json", rng.randbytes(rng.randint(1, 200))),
        ("truncated json", msgspec.json.encode(body)[: rng.randint(1, 100)]),
        ("empty", b""),
        ("unknown event type", msgspec.json.encode(body | {"event_type": f"Unheard{n}"})),
        ("missing tag", msgspec.json.encode({k: v for k, v in body.items() if k != "event_type"})),
        ("wrong type", msgspec.json.encode(body | {"application_id": n})),
        ("oversized string", msgspec.json.encode(body | {"application_id": "x" * rng.randint(65, 5000)})),
        (
            "deep nesting",
            b'{"event_type":"ApplicationSubmitted","volunteer":' + b"[" * 5000 + b"]" * 5000 + b"}",
        ),
        (
            "near the size limit",
            msgspec.json.encode(body | {"documents": ["cv"] * ((MAX_MESSAGE_BYTES - 2000) // 5)}),
        ),
        ("over the size limit", msgspec.json.encode(body | {"documents": ["cv"] * (MAX_MESSAGE_BYTES // 5)})),
        ("json array", b"[1, 2, 3]"),
        ("unknown field", msgspec.json.encode(body | {"criminal_record": "none"})),
        ("date out of range", msgspec.json.encode(body | {"wishes": {"available_from": "1700-01-01"}})),
    ]


def bad_inputs(count: int, seed: int = 7) -> Iterator[tuple[Topic, bytes, str, bytes]]:
    """Yield `count` (intake topic, key, kind, value) bad messages, cycling through every kind and intake."""
    rng = random.Random(seed)
    n = 0
    while True:
        for kind, value in _kinds(n, rng):
            if n == count:
                return
            yield INTAKES[n % len(INTAKES)], f"poison-{n}".encode(), kind, value
            n += 1
