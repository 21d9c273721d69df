"""The judge of a run: checks the promised invariants on the operators' read model (the past, kept after
retention), on the topics as they are now (what partners may read, what an erasure removed) and on every
service's store."""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ahocorasick
import msgspec

from services.cli.erasure import Status, erased_volunteers, mentions
from services.cli.history import History
from services.cli.lag import lag
from services.cli.reading import EPOCH, Seen, digest, log_starts, read
from services.cli.stages import ERASED, FINAL
from services.cli.stores import occupancy
from services.console.snapshots import current_view
from services.grants import ERASABLE
from shared.contracts.envelope import Event
from shared.contracts.partner import PERSONAL_FIELDS, PartnerEvent
from shared.contracts.partners import PARTNERS, topic_of
from shared.contracts.topics import PARTNER_TOPICS, WRITER_OF_EVENTS, Topic
from shared.settings import Settings

PARTNER_EVENTS = frozenset(kind.__name__ for kind in typing.get_args(PartnerEvent))
ENVOL_EVENTS = [
    topic for topic in WRITER_OF_EVENTS if topic not in (Topic.PARTNER_PLACEMENT_UPDATES, *PARTNER_TOPICS)
]  # the services' own events topics


class Check(msgspec.Struct, frozen=True):
    """One invariant, whether it holds, and the figures behind the verdict."""

    name: str
    ok: bool
    detail: str


class Report(msgspec.Struct, frozen=True):
    """Every check of one audit, with the counts it read."""

    checks: list[Check]
    records: int
    applications: int
    since: dt.datetime | None = None  # the oldest record folded: what is older is not audited
    missed: int = 0  # records deleted before the read model folded them (retention, an erasure's cut)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def outcomes_once(history: History) -> Check:
    """No application had one outcome twice (distinct events); counted as they were folded, so an
    erasure since keeps the count, not the example."""
    twice = history.duplicates
    examples = ", ".join(example for _, example in history.duplicated) or "erased since"
    return Check(
        "each outcome at most once",
        not twice,
        f"{history.outcome_count} outcomes; "
        + (f"{twice} duplicated: {examples}" if twice else "none duplicated"),
    )


def complete(reached: dict[str, str], expected: dict[str, str] | None, erased: int = 0) -> Check:
    """Every application expected reached its stage; without expectations, how many ended (`erased` ones
    the read model forgot included) and how many are in progress."""
    if expected is None:
        open_ = sum(1 for stage in reached.values() if stage not in FINAL)
        return Check(
            "lifecycles complete",
            True,
            f"{len(reached) - open_ + erased} ended, {open_} in progress (no expectation given)",
        )
    wrong = sorted(
        f"{a}: {reached.get(a, 'none')} (expected {s})" for a, s in expected.items() if reached.get(a) != s
    )
    return Check(
        "every lifecycle reached its expected stage",
        not wrong,
        f"{len(expected) - len(wrong)}/{len(expected)}; " + ("; ".join(wrong[:5]) or "none lost"),
    )


def order_kept(history: History) -> Check:
    """Per topic, key and aggregate, events appear in the order they were made; across services, after
    their cause.

    The order promised is each aggregate's (an application's, an opening's): two applications of one
    volunteer share its key but are independent, and a crash may publish one's events after the other's.
    Only the topics Envol writes: what outside systems send on the intake topics carries their clocks and
    their ids, whatever they are, and the order promised is that of what Envol makes of it."""
    where = f" ({history.disordered[:3]})" if history.disordered else ""
    return Check(
        "order kept per volunteer",
        history.disorder == 0 and history.before_cause == 0,
        f"{len(history.latest)} keys; {history.disorder} out of order{where}, "
        f"{history.before_cause} logged before their cause",
    )


def seats_respected(history: History, occupancy: dict[str, int]) -> Check:
    """No opening ever had more seats reserved at once than it has (nor holds more now, in placement's
    store), and no volunteer held two reservations at once. An opening whose registered publication the
    read model never folded (deleted before it read it) has seats it does not know: not judged."""
    seats, peaks = history.seats, history.peaks()
    unknown = sorted({*peaks, *occupancy} - set(seats))
    over = sorted(o for o, n in peaks.items() if n > seats.get(o, n)) + sorted(
        o for o, n in occupancy.items() if n > seats.get(o, n)
    )
    two_at_once = history.two_at_once()
    figures = f"{len(seats)} openings, {sum(peaks.values())} peak reservations; over: {over[:5] or 'none'}"
    figures += f"; {len(unknown)} openings of unknown seats, not judged" if unknown else ""
    name = "seats never over-reserved, one active placement per volunteer"
    return Check(name, not over and two_at_once == 0, f"{figures}; volunteers with two: {two_at_once}")


def top_level_fields(value: bytes) -> set[str]:
    """Return the field names of a JSON object; none for any other bytes (not JSON, not UTF-8, too deep)."""
    try:
        body = msgspec.json.decode(value, type=dict[str, msgspec.Raw])
    except (ValueError, RecursionError):  # msgspec.DecodeError and UnicodeDecodeError are ValueErrors
        return set()
    return set(body)


def personal_values(events: Iterable[Event]) -> set[bytes]:
    """What no partner message may hold: the personal values and the application id (the portal's, which
    may be a name) of every application received, and the correlation ids of Envol's events (which would
    link one volunteer across topics and hosts; those of the messages partners read are minted for them)."""
    secrets = set()
    for e in events:
        volunteer = getattr(e, "volunteer", None)
        if e.event_type == "ApplicationReceived" and volunteer is not None:
            values = (
                volunteer.volunteer_id,
                volunteer.given_name,
                volunteer.family_name,
                volunteer.email,
                str(volunteer.birth_date),
                getattr(e, "application_id", ""),
            )
            secrets |= {value.encode() for value in values if value}
        if e.correlation_id and e.event_type not in PARTNER_EVENTS:
            secrets.add(e.correlation_id.encode())
    return secrets


def partner_clean(seen: Iterable[Seen], secrets: set[bytes], stated: dict[str, set[bytes]]) -> Check:
    """No partner message (key, value or header) holds one of `secrets` (`personal_values`); a refusal
    told to a partner may give back the id of a fact that partner `stated`, and nothing else of the run."""
    partner = [s for s in seen if s.topic == Topic.PARTNER_PLACEMENT_UPDATES or s.topic in PARTNER_TOPICS]
    # `leaked`, for every secret and message at once: whole values by set, the others by substring
    inside = holding_any(secret for secret in secrets if searched_inside(secret))
    whole = {secret for secret in secrets if not searched_inside(secret)}
    leaks = 0
    for s in partner:
        value = s.record.value or b""
        own = refused_id(value)  # a refusal of the partner's own fact, keyed and correlated by its id
        if own is not None and digest(own.decode(errors="replace")) not in stated.get(s.topic, ()):
            own = None
        key = s.record.key or b""
        key = b"" if key == own else key
        header_values = [b"" if (v or b"") == own else (v or b"") for _, v in s.record.headers]
        headers = [
            name.encode() + b"=" + v for (name, _), v in zip(s.record.headers, header_values, strict=True)
        ]
        body = without_the_partners_own(value, own)
        strings = string_values(body) | {key, *header_values}
        leaks += (
            bool(top_level_fields(value) & PERSONAL_FIELDS)
            or bool(whole & strings)
            or any(inside(part) for part in (body, key, *headers))
        )
    return Check(
        "no personal data on the partner topics",
        leaks == 0,
        f"{len(partner)} updates (keys, values, headers) checked against {len(secrets)} personal values, "
        f"application ids and correlation ids; {leaks} leaks",
    )


def partners_apart(seen: Sequence[Seen]) -> Check:
    """Each partner's own topic holds the updates of that partner's placements only, and every update of
    a partner's placement reached it (`shared.contracts.partners`)."""
    topic_of_host = {partner.organisation: topic_of(partner) for partner in PARTNERS}
    own = [s for s in seen if s.topic in PARTNER_TOPICS]
    strays = [
        s
        for s in own
        if s.event is None or topic_of_host.get(getattr(s.event, "host_organisation", None) or "") != s.topic
    ]
    delivered = {(s.topic, s.event.event_id) for s in own if s.event is not None}
    missing = [
        s
        for s in seen
        if s.topic == Topic.PARTNER_PLACEMENT_UPDATES
        and s.event is not None
        and (host := getattr(s.event, "host_organisation", None)) in topic_of_host
        and (topic_of_host[host], s.event.event_id) not in delivered
    ]
    return Check(
        "each partner's topic holds its own placements, all of them",
        not strays and not missing,
        f"{len(own)} updates on {len(PARTNER_TOPICS)} partners' topics; {len(strays)} about another partner "
        f"or unreadable, {len(missing)} of a partner's placement not on its topic",
    )


SHORTEST_SEARCHED = 4  # a personal value this long or longer is looked for inside other values too
HEX = re.compile(rb"[0-9a-fA-F-]+")


def searched_inside(secret: bytes) -> bool:
    """Whether a personal value is looked for inside other values: when it is long enough to mean
    something (not an id such as `es`) and not made of hex digits alone (which a pseudonym's digits may
    spell by chance); otherwise only as a whole value."""
    return len(secret) >= SHORTEST_SEARCHED and not HEX.fullmatch(secret)


def holding_any(secrets: Iterable[bytes]) -> Callable[[bytes], bool]:
    """A test of whether a message holds any of `secrets` inside it, in time linear in the message whatever
    their number (an Aho-Corasick automaton: a long run's audit looks for every volunteer's values in every
    partner message)."""
    automaton = ahocorasick.Automaton()
    for secret in secrets:
        automaton.add_word(secret.decode("latin-1"), None)  # latin-1: one character per byte, both ways
    if not len(automaton):
        return lambda message: False
    automaton.make_automaton()
    return lambda message: next(automaton.iter(message.decode("latin-1")), None) is not None


def leaked(secret: bytes, message: bytes) -> bool:
    """Tell whether a personal value appears in a message: inside any of its bytes (`searched_inside`),
    else as a whole JSON string anywhere in it, or as the whole message (a key)."""
    if searched_inside(secret):
        return secret in message
    return secret == message or msgspec.json.encode(secret.decode(errors="replace")) in message


def string_values(value: bytes) -> set[bytes]:
    """Every string in a JSON message, at any depth (none for any other bytes)."""
    try:
        body = msgspec.json.decode(value)
    except (ValueError, RecursionError):
        return set()
    found: set[bytes] = set()
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.add(item.encode())
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return found


OPENING_TEXT = ("host_organisation", "mission", "region")  # the host's own words, copied from its opening


def without_the_partners_own(value: bytes, own: bytes | None = None) -> bytes:
    """A partner message without what the partner said itself: its opening's description, in which a
    personal value found is the host's word and no leak (a volunteer called Education, a mission "through
    education"), and, in the refusal of a fact of its own, that fact's event id `own` wherever it is a
    whole value (the refused id, and the key and correlation id the refusal may be given)."""
    try:
        body = msgspec.json.decode(value, type=dict[str, Any])
    except (ValueError, RecursionError):
        return value
    mine = own.decode() if own is not None else None
    kept = {k: v for k, v in body.items() if k not in OPENING_TEXT and (mine is None or v != mine)}
    return msgspec.json.encode(kept)


def refused_id(value: bytes) -> bytes | None:
    """The event id a refusal told to a partner (`FactRefused`) gives back (None for any other message)."""
    try:
        body = msgspec.json.decode(value, type=dict[str, Any])
    except (ValueError, RecursionError):
        return None
    refused = body.get("refused_event_id") if body.get("event_type") == "FactRefused" else None
    return refused.encode() if isinstance(refused, str) else None


def reasons_coded(history: History) -> Check:
    """Every reason a service states on its topic is a code of the closed vocabulary: no person's words or
    values travel in it (shared/contracts/reasons.py)."""
    free = Counter(history.free_reasons)
    return Check(
        "every reason is a code",
        not free,
        f"{history.reasons} reasons stated; {sum(free.values())} not a code"
        + "".join(f" ({kind}: {n})" for kind, n in free.most_common(5)),
    )


def dead_letters_explained(history: History, expected: int | None) -> Check:
    ok = history.unexplained == 0 and (expected is None or history.letters == expected)
    wanted = "" if expected is None else f" (expected {expected})"
    return Check(
        "every dead letter says where from and why",
        ok,
        f"{history.letters} dead letters{wanted}; {history.unexplained} without origin or reason",
    )


def about_erased(erased: Sequence[Status]) -> Callable[[Seen], list[str]]:
    """The erased volunteers a record is about, on a topic that may hold personal data (keyed by their id
    or one of their placements', or naming their id in its bytes)."""
    placements = {erasure.volunteer_id: frozenset(erasure.placements) for erasure in erased}
    erasable = set(ERASABLE)

    def about(s: Seen) -> list[str]:
        if s.topic not in erasable:
            return []
        return [v for v, theirs in placements.items() if mentions(s.record, v, theirs)]

    return about


def erasures_hold(erased: Sequence[Status], left: Counter[str]) -> Check:
    """Every volunteer asked to be erased is a tombstone in every service, and no record `left` on a topic
    that may hold personal data is about them (`about_erased`)."""
    held = [s.volunteer_id for s in erased if not s.done]
    return Check(
        "erased volunteers left nothing on the topics or in the stores",
        not held and not left,
        f"{len(erased)} erased volunteers; {len(held)} still held by a service"
        + "".join(f" ({v})" for v in held[:5])
        + f"; {sum(left.values())} records about them left on the topics"
        + "".join(f" ({v}: {n})" for v, n in left.most_common(5)),
    )


async def audit(
    settings: Settings, expected: dict[str, str] | None = None, dead_letters: int | None = None
) -> Report:
    """Check every invariant of `settings`' namespace: those of the past on the operators' read model
    (its latest snapshot and the records since; every topic from its start without one), those of what
    partners may read and what an erasure must have removed on the topics as they are now, and the
    stores."""
    view, problem = await current_view(settings)
    history = view.history
    secrets: set[bytes] = set()
    async for s in read(settings, ENVOL_EVENTS):  # what partners must not read, as the topics hold it now
        if s.event is not None:
            secrets |= personal_values([s.event])
    partner = [s async for s in read(settings, [Topic.PARTNER_PLACEMENT_UPDATES, *PARTNER_TOPICS])]
    erased = await erased_volunteers(settings)
    left: Counter[str] = Counter()
    if erased:
        about = about_erased(erased)
        async for s in read(settings, ERASABLE):
            left.update(about(s))
    behind = await lag(settings)
    reached = view.stages | {a: ERASED for a in expected or {} if view.forgets(a)}
    checks = [
        outcomes_once(history),
        complete(reached, expected, erased=sum(view.erased.values())),
        order_kept(history),
        seats_respected(history, await occupancy(settings)),
        partner_clean(partner, secrets, history.stated),
        partners_apart(partner),
        reasons_coded(history),
        dead_letters_explained(history, dead_letters),
        erasures_hold(erased, left),
        Check(
            "every message applied and committed (no consumer lag)",
            not any(behind.values()),
            ", ".join(f"{service}: {n} behind" for service, n in behind.items()),
        ),
    ]
    if problem is not None:
        checks.append(Check("the operators' read model is readable", False, problem))
    since = None if history.since is None else EPOCH + dt.timedelta(microseconds=history.since)
    return Report(
        checks=checks,
        records=history.records,
        applications=len(view.volunteers) + sum(view.erased.values()),
        since=since,
        missed=history.unread(await log_starts(settings)),
    )
