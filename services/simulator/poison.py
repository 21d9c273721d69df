"""Bad inputs of every kind an outside system can send: not JSON, invalid UTF-8, wrong types, unknown events,
duplicate keys, numbers out of range, control and bidi characters, markup, too big. Every one must be refused
by the contracts (`tests/hostile_inputs.py` also draws inputs that may be applied).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import msgspec

from shared import samples
from shared.contracts.codec import MAX_MESSAGE_BYTES, encode
from shared.contracts.topics import INTAKES


def _valid(n: int) -> dict[str, object]:
    event = samples.submitted(f"poison-{n}", volunteer_fields={"volunteer_id": f"poison-vol-{n}"})
    body: dict[str, object] = msgspec.json.decode(encode(event))
    return body


def _kinds(n: int, rng: random.Random) -> list[tuple[str, bytes]]:
    body = _valid(n)
    raw = msgspec.json.encode(body)
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
        ("invalid utf-8 in a string", raw.replace(b'"Camille"', b'"Z\xe9lie"')),  # a Latin-1 portal
        ("duplicate key", b'{"application_id":' + str(n).encode() + b"," + raw[1:]),
        ("huge number", raw.replace(b'"prior_vsi_months":0', b'"prior_vsi_months":' + b"9" * 400)),
        ("negative number", raw.replace(b'"prior_vsi_months":0', b'"prior_vsi_months":-1')),
        ("bidi control in an id", msgspec.json.encode(body | {"application_id": f"poison-\u202e{n}"})),
        ("markup in an id", msgspec.json.encode(body | {"application_id": f"[/bold]{n}"})),
        ("lone surrogate", raw.replace(b'"Camille"', b'"\\ud800"')),
        ("name in a coded field", msgspec.json.encode(body | {"event_type": "N'Diaye"})),
        ("event of another topic", msgspec.json.encode(body | {"event_type": "ApplicationReceived"})),
    ]


def bad_inputs(count: int, seed: int = 7) -> Iterator[tuple[str, bytes, str, bytes]]:
    """Yield `count` (intake topic, key, kind, value) bad messages, cycling through every kind and intake."""
    rng = random.Random(seed)
    n = 0
    while True:
        for kind, value in _kinds(n, rng):
            if n == count:
                return
            yield INTAKES[n % len(INTAKES)], f"poison-{n}".encode(), kind, value
            n += 1
