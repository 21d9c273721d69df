"""Hypothesis strategies of hostile input for the intake topics: arbitrary bytes, and valid events mutated.

Every valid event is built from `shared.samples` with ids of its own (`fz-…-<n>`), so an input that decodes
is applied to an aggregate no other input touches, and its event id says whether it was applied.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from hypothesis import strategies as st

from shared import samples
from shared.contracts.codec import MAX_MESSAGE_BYTES, encode
from shared.contracts.departure import HostReport
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC, intake_of
from shared.contracts.partners import PARTNERS, principal_of
from shared.contracts.placement import Party

NAMES = ("Camille", "N'Diaye", "D'Almeida", "Zoé", "Nguyễn", "O'Brien", 'Ana "Nana" María', "Łukasz")
AT = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Hostile(msgspec.Struct, frozen=True):
    """One message for an intake topic, what was done to it, and the personal values it was made from."""

    topic: str
    key: bytes | None
    value: bytes
    kind: str
    personal: tuple[str, ...] = ()


def person(n: int, name: str) -> samples.ApplicationSubmitted:
    """Application fz-app-<n> of volunteer fz-vol-<n>, named `name`."""
    slug = re.sub(r"[^a-z]", "", name.lower()) or "x"
    fields = {"volunteer_id": f"fz-vol-{n}", "given_name": name, "family_name": f"{name} {n}"}
    return samples.submitted(
        f"fz-app-{n}", volunteer_fields=fields | {"email": f"{slug}.{n}@example.org"}, occurred_at=AT
    )


def personal_values(application: samples.ApplicationSubmitted) -> tuple[str, ...]:
    """The values of a volunteer that must never reach a header or a log."""
    v = application.volunteer
    return (v.given_name, v.family_name, v.email, str(v.birth_date))


def host_of(topic: str) -> str | None:
    """The host organisation whose own intake topic `topic` is (a partner's), else None."""
    writer = INTAKE_OF_TOPIC[topic].source
    return next((p.organisation for p in PARTNERS if principal_of(p) == writer), None)


def _facts(topic: str, n: int, application: samples.ApplicationSubmitted) -> list[Event]:
    host = host_of(topic)
    opening = samples.opening(f"fz-open-{n}", **({"host_organisation": host} if host else {}))
    every = [
        application,
        samples.withdrawal(application),
        samples.erasure(application.subject_id),
        *samples.all_screenings(application),
        samples.screening_deadline(application),
        samples.published(opening),
        samples.approved(opening),
        *(samples.answer(application, f"fz-pl-{n}", party) for party in Party),
        *samples.checklist(application),
        samples.departed(application),
        samples.arrived(application),
        samples.placement_reported(
            f"fz-pl-{n}", opening.host_organisation, HostReport.ENDED, end_date=AT.date()
        ),
    ]
    return [fact for fact in every if intake_of(fact, host) == topic]


def draw_valid(draw: st.DrawFn, topic: str, n: int) -> tuple[Event, tuple[str, ...]]:
    """A valid event of `topic` with ids of its own (`n`), and the personal values behind it."""
    application = person(n, _pick(draw, NAMES))
    fact = _pick(draw, _facts(topic, n, application))
    event = msgspec.structs.replace(fact, event_id=f"fz-ev-{n}", occurred_at=AT)
    return event, personal_values(application)


MARK = "zzqMARKqzz"
Body = dict[str, Any]
Mutation = Callable[[st.DrawFn, Body, bytes], bytes]
Path = tuple[str | int, ...]


def _pick(draw: st.DrawFn, choices: Sequence[Any]) -> Any:
    """One of `choices` (cheaper than a new `sampled_from` strategy for each draw)."""
    if not choices:
        raise InapplicableError  # e.g. no string left after an earlier mutation
    return choices[draw(st.integers(0, len(choices) - 1))]


GIANTS = [True]  # whether 100 KB keys and 256 KiB bodies are drawn; a long run turns them off, mostly


def _sizes(draw: st.DrawFn, small: list[Any], giant: list[Any]) -> Any:
    return _pick(draw, small + giant if GIANTS[0] else small)


class InapplicableError(Exception):
    """The mutation finds nothing to mutate in this body."""


def _leaves(node: Any, path: Path = ()) -> list[Path]:
    if len(path) > 20:  # a nesting mutation before: its depth is one leaf
        return [path]
    if isinstance(node, dict):
        return [p for key, child in node.items() for p in _leaves(child, (*path, key))]
    if isinstance(node, list) and node:
        return [p for n, child in enumerate(node) for p in _leaves(child, (*path, n))]
    return [path]


def _nodes(node: Any, path: Path = ()) -> list[Path]:
    """The paths of every object in the body, the body first."""
    if not isinstance(node, dict) or len(path) > 20:
        return []
    return [path, *(p for key, child in node.items() for p in _nodes(child, (*path, key)))]


def _get(body: Any, path: Path) -> Any:
    for part in path:
        body = body[part]
    return body


def _set(body: Body, path: Path, value: Any) -> bytes:
    """The body with the leaf at `path` set to `value` (a MARK in it is replaced by raw bytes later)."""
    if path:
        _get(body, path[:-1])[path[-1]] = value
    return msgspec.json.encode(body)


def _leaf(draw: st.DrawFn, body: Body, strings: bool = False) -> Path:
    paths = [p for p in _leaves(body) if not strings or isinstance(_get(body, p), str)]
    return _pick(draw, paths)


def _raw(draw: st.DrawFn, body: Body, tokens: list[bytes]) -> bytes:
    """Replace a leaf by a raw JSON token (numbers msgspec cannot hold, nesting, escapes)."""
    return _set(body, _leaf(draw, body), MARK).replace(f'"{MARK}"'.encode(), _pick(draw, tokens))


INVALID_UTF8 = [
    b"\xe9",
    b"Zo\xe9",
    b"\xff\xfe",
    b"\xc3",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80",
    b"\x80",
]
NUMBERS = [b"-1", b"-0", b"-9223372036854775809", b"18446744073709551616", b"1" + b"0" * 400, b"1e400",
           b"-1e400", b"1e-400", b"NaN", b"Infinity", b"9" * 5000, b"0.5", b"01"]  # fmt: skip
TIMES = ["2026-03-01T09:00:00", "2026-03-01T09:00:00.123456", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
         "0001-01-01T00:00:00+14:00", "2026-03-01T09:00:00+23:59", "2026-02-30T09:00:00Z", "2026-03-01",
         "9999-12-31", "0001-01-01", "1899-12-31", "2101-01-01", "2026-03-01T24:00:00Z", "1e10",
         "now"]  # fmt: skip
TEXTS = ["\u202e", "\u202d", "\u2066", "\u2069", "\x00", "\x1b[31m", "\r\n", "\u200b", "\ufeff", "\u0085",
         "\u2028", "[/bold]", "[red]x[/red]", "[link=https://evil.example]x[/link]", "%s%n", "{0}", "\\", '"',
         "'", "`", "é" * 101]  # fmt: skip
VALUES: list[Any] = [[], {}, 0, -1, 1.5, True, None, "", "x", [1], {"a": 1}, [None], 2**63]
NESTINGS = [b"[" * n + b"]" * n for n in (10, 100, 1000, 10_000)] + [b'{"a":' * 500 + b"1" + b"}" * 500]
ANY_FIELD = st.one_of(st.sampled_from(["extra", "criminal_record", "event_type", "__proto__", ""]), st.text())
INSERTED = st.one_of(st.sampled_from(TEXTS), st.text(max_size=20))
FOREIGN = ["ApplicationReceived", "OpeningPublished", "ScreeningReported", "VisaDecided", "Unheard", ""]
TAGS = st.one_of(st.sampled_from(FOREIGN), st.text(max_size=30))


def _times(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    dated = [p for p in _leaves(body) if str(p[-1]).endswith(("_at", "_date", "_on", "_from", "_until"))]
    return _set(body, _pick(draw, dated), _pick(draw, TIMES))


def _text(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    path = _leaf(draw, body, strings=True)
    inserted = draw(INSERTED)
    value = _get(body, path)
    at = draw(st.integers(0, len(value)))
    return _set(body, path, value[:at] + inserted + value[at:])


def _invalid_utf8(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    bad = _pick(draw, INVALID_UTF8)
    if draw(st.booleans()):  # inside a JSON string, as a Latin-1 portal sends a name
        path = _leaf(draw, body, strings=True)
        return _set(body, path, MARK + _get(body, path)).replace(MARK.encode(), bad)
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + bad + raw[at:]


def _duplicate_key(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    key = _pick(draw, list(body))
    other = body[key] if draw(st.booleans()) else _pick(draw, [*VALUES, *NAMES])
    copy = msgspec.json.encode({key: other})[1:-1]
    return b"{" + copy + b"," + raw[1:] if draw(st.booleans()) else raw[:-1] + b"," + copy + b"}"


def _extra_field(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    node = _get(body, _pick(draw, _nodes(body)))
    node[draw(ANY_FIELD)] = _pick(draw, VALUES)
    return msgspec.json.encode(body)


def _swap(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    """A value in another field's place (a shifted column): names in enums, tags and ids."""
    return _set(body, _leaf(draw, body), _get(body, _leaf(draw, body, strings=True)))


def _shifted_column(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    """A person's value in a coded field (a tag, an enum, a code, an id), as a shifted CSV column makes."""
    strings = [p for p in _leaves(body) if isinstance(_get(body, p), str)]
    personal = [p for p in strings if p[0] == "volunteer"] or strings
    coded = [p for p in strings if p[0] != "volunteer"]
    tagged = [p for p in coded if p[-1] in ("event_type", "scheme", "check", "party")]  # values echoed
    return _set(body, _pick(draw, _pick(draw, [coded, tagged])), _get(body, _pick(draw, personal)))


def _missing(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    path = _leaf(draw, body)
    parent = _get(body, path[:-1])
    del parent[path[-1]]
    return msgspec.json.encode(body)


def _wrong_event(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    return _set(body, ("event_type",), draw(TAGS))


def _oversized(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    size = _sizes(draw, [65, 101, 301, 5000], [MAX_MESSAGE_BYTES - len(raw), MAX_MESSAGE_BYTES + 1])
    return _set(body, _leaf(draw, body), "x" * size)


def _huge_field_name(draw: st.DrawFn, body: Body, raw: bytes) -> bytes:
    body["k" * _sizes(draw, [1000], [100_000])] = 1
    return msgspec.json.encode(body)


MUTATIONS: dict[str, Mutation] = {
    "bit flip": lambda d, b, raw: _flip(raw, [d(st.integers(0, len(raw) * 8 - 1)) for _ in range(3)]),
    "truncated": lambda d, b, raw: raw[: d(st.integers(0, len(raw) - 1))],
    "invalid utf-8": _invalid_utf8,
    "duplicate key": _duplicate_key,
    "huge or negative number": lambda d, b, raw: _raw(d, b, NUMBERS),
    "naive or far datetime": _times,
    "control, bidi or markup text": _text,
    "wrong type": lambda d, b, raw: _set(b, _leaf(d, b), _pick(d, VALUES)),
    "extra field": _extra_field,
    "deep nesting": lambda d, b, raw: _raw(d, b, [_sizes(d, NESTINGS, [b"[" * 100_000 + b"]" * 100_000])]),
    "empty or null": lambda d, b, raw: _set(b, _leaf(d, b), _pick(d, ["", None, [], {}])),
    "missing field": _missing,
    "value in another field": _swap,
    "personal value in a coded field": _shifted_column,
    "unknown or foreign event type": _wrong_event,
    "oversized string": _oversized,
    "lone surrogate escape": lambda d, b, raw: _raw(d, b, [b'"\\ud800"', b'"\\udfff x"', b'"\\u0000"']),
    "huge field name": _huge_field_name,
}  # fmt: skip
WHOLE = [
    b"",
    b"null",
    b"{}",
    b"[]",
    b'""',
    b"0",
    b" ",
    b"\xef\xbb\xbf{}",
    b"[1, 2, 3]",
    b'{"event_type":null}',
]


def _flip(raw: bytes, bits: list[int]) -> bytes:
    """Flip one to three bits (a bit drawn twice flips back: then one fewer)."""
    flipped = bytearray(raw)
    for bit in bits[: 1 + bits[0] % 3]:
        flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


ODD_KEYS = [None, b"", b"\xff\xfe", b"\x00" * 8, b"k" * 1024]
KINDS = sorted(MUTATIONS)


def draw_key(draw: st.DrawFn, subject: bytes) -> bytes | None:
    """The Kafka key: the subject's, mostly, else none, empty, invalid UTF-8 or huge."""
    return subject if draw(st.integers(0, 3)) else _sizes(draw, ODD_KEYS, [b"k" * 100_000])


def draw_mutated(draw: st.DrawFn, topic: str, n: int) -> Hostile:
    """A valid event of `topic` with one mutation (or two), keyed as sent or oddly."""
    event, personal = draw_valid(draw, topic, n)
    raw = encode(event)
    kinds = [_pick(draw, KINDS) for _ in range(draw(st.integers(1, 2)))]
    for kind in kinds:
        try:
            body = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            break  # the first mutation left no JSON to mutate further
        if not isinstance(body, dict) or not body:
            break
        try:
            raw = MUTATIONS[kind](draw, body, raw)
        except InapplicableError:
            break
    return Hostile(topic, draw_key(draw, event.subject_id.encode()), raw, " + ".join(kinds), personal)


def draw_hostile(draw: st.DrawFn, topic: str, n: int) -> Hostile:
    """A hostile message for `topic`: arbitrary bytes, a whole-body oddity, or (mostly) a mutated event."""
    key = f"fz-{n}".encode()
    branch = draw(st.integers(0, 5))
    if branch == 0:
        return Hostile(topic, key, draw(st.binary(max_size=300)), "arbitrary bytes")
    if branch == 1:
        return Hostile(topic, key, _pick(draw, WHOLE), "whole-body oddity")
    return draw_mutated(draw, topic, n)


@st.composite
def hostile(draw: st.DrawFn, topic: str, n: int) -> Hostile:
    """The strategy of `draw_hostile`."""
    return draw_hostile(draw, topic, n)
