"""The judge of a run: reads every topic and every service's store and checks the promised invariants."""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any

import ahocorasick
import msgspec

from services.cli.erasure import Status, erased_volunteers, mentions
from services.cli.lag import lag
from services.cli.reading import Seen, first_copies, log_starts, read_all
from services.cli.stages import FINAL, stages
from services.cli.stores import occupancy
from services.grants import ERASABLE
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC
from shared.contracts.partner import PERSONAL_FIELDS, PartnerEvent
from shared.contracts.partners import PARTNERS, partner_named, topic_of
from shared.contracts.reasons import REASON_CODES, stated_reasons
from shared.contracts.topics import INTAKES, PARTNER_TOPICS, Topic
from shared.settings import Settings

PARTNER_EVENTS = {kind.__name__ for kind in typing.get_args(PartnerEvent)}

# Outcomes that must happen at most once per application (distinct event ids).
OUTCOMES = (
    "ApplicationReceived", "ApplicationRejected", "VettingCleared", "VettingRefused", "PlacementConfirmed",
    "PlacementClosed", "ContractSigned", "VolunteerDeparted", "ArrivalConfirmed", "MissionEnded",
    "VolunteerReturned", "MissionClosed",
)  # fmt: skip


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
    since: dt.datetime | None = None  # the oldest record read: what is older is not audited
    trimmed: int = 0  # partitions whose older records are gone (retention, an erasure's cut): not audited

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def outcomes_once(events: Iterable[Event]) -> Check:
    counts = Counter(
        (getattr(e, "application_id", ""), e.event_type) for e in events if e.event_type in OUTCOMES
    )
    twice = sorted(f"{app} {kind} ×{n}" for (app, kind), n in counts.items() if n > 1)
    return Check(
        "each outcome at most once",
        not twice,
        f"{sum(counts.values())} outcomes; " + (", ".join(twice[:5]) or "none duplicated"),
    )


def complete(reached: dict[str, str], expected: dict[str, str] | None) -> Check:
    if expected is None:
        open_ = sum(1 for stage in reached.values() if stage not in FINAL)
        return Check(
            "lifecycles complete",
            True,
            f"{len(reached) - open_} ended, {open_} in progress (no expectation given)",
        )
    wrong = sorted(
        f"{a}: {reached.get(a, 'none')} (expected {s})" for a, s in expected.items() if reached.get(a) != s
    )
    return Check(
        "every lifecycle reached its expected stage",
        not wrong,
        f"{len(expected) - len(wrong)}/{len(expected)}; " + ("; ".join(wrong[:5]) or "none lost"),
    )


def order_kept(seen: Sequence[Seen]) -> Check:
    """Per topic, key and aggregate, events appear in the order they were made; across services, after
    their cause.

    The order promised is each aggregate's (an application's, an opening's): two applications of one
    volunteer share its key but are independent, and a crash may publish one's events after the other's.
    Only the topics Envol writes: what outside systems send on the intake topics carries their clocks and
    their ids, whatever they are, and the order promised is that of what Envol makes of it."""
    made = [item for item in seen if item.topic not in INTAKES]
    by_key: dict[tuple[str, Any, str], list[Seen]] = defaultdict(list)
    for item in made:
        by_key[(item.topic, item.record.key, _aggregate_of(item.event))].append(item)
    disorder, where = 0, []
    for (topic, _, _), items in by_key.items():
        items.sort(key=lambda s: (s.partition, s.offset))
        events = [s.event for s in items if s.event is not None]
        late = [(a, b) for a, b in pairwise(events) if b.occurred_at < a.occurred_at]
        disorder += len(late)
        where += [f"{topic}: {b.event_type} after {a.event_type}" for a, b in late]
    logged = {s.event.event_id: s.timestamp for s in seen if s.event is not None}
    before_cause = sum(
        1
        for s in made
        if s.event and s.event.causation_id in logged and s.timestamp < logged[s.event.causation_id]
    )
    ok = disorder == 0 and before_cause == 0
    return Check(
        "order kept per volunteer",
        ok,
        f"{len(by_key)} keys; {disorder} out of order{f' ({where[:3]})' if where else ''}, "
        f"{before_cause} logged before their cause",
    )


def _aggregate_of(event: Event | None) -> str:
    """The aggregate an event is about: its application; else, for a partner's message, its volunteer (a
    shortlist entry is its applicant's, keyed by the opening beside the other applicants'); else its
    opening (else none known)."""
    return str(
        getattr(event, "application_id", None)
        or getattr(event, "volunteer_ref", None)
        or getattr(event, "opening_id", "")
    )


def seats_respected(events: Sequence[Event], occupancy: dict[str, int]) -> Check:
    seats = {e.opening.opening_id: e.opening.seats for e in events if e.event_type == "OpeningPublished"}  # type: ignore[attr-defined]
    held: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    active: Counter[str] = Counter()
    two_active = 0
    holding: dict[
        str, tuple[str, str]
    ] = {}  # application id: the opening and placement of its active proposal
    for e in events:
        if e.event_type == "PlacementProposed":
            held[e.opening_id] += 1  # type: ignore[attr-defined]
            peak[e.opening_id] = max(peak[e.opening_id], held[e.opening_id])  # type: ignore[attr-defined]
            active[e.subject_id] += 1
            two_active += active[e.subject_id] > 1
            holding[e.application_id] = (e.opening_id, e.placement_id)  # type: ignore[attr-defined]
        elif e.event_type == "PlacementCancelled":
            held[e.opening_id] -= 1  # type: ignore[attr-defined]
            active[e.subject_id] -= 1
            holding.pop(e.application_id, None)  # type: ignore[attr-defined]
        elif released(e, holding.get(getattr(e, "application_id", ""))):
            opening, _ = holding.pop(e.application_id)  # type: ignore[attr-defined]
            held[opening] -= 1
            active[e.subject_id] -= 1
    over = sorted(o for o in peak if peak[o] > seats.get(o, 0)) + sorted(
        o for o, n in occupancy.items() if n > seats.get(o, 0)
    )
    ok = not over and two_active == 0
    figures = f"{len(seats)} openings, {sum(peak.values())} peak reservations; over: {over[:5] or 'none'}"
    name = "seats never over-reserved, one active placement per volunteer"
    return Check(name, ok, f"{figures}; volunteers with two: {two_active}")


def released(event: Event, holding: tuple[str, str] | None) -> bool:
    """Whether `event` gives back the seat its application holds (`holding`: its opening and placement):
    placement erased the application, or that placement's mission ended."""
    if holding is None:
        return False
    if event.event_type == "ErasureCompleted":
        return event.producer == "placement"
    return event.event_type == "MissionEnded" and getattr(event, "placement_id", None) == holding[1]


def top_level_fields(value: bytes) -> set[str]:
    """Return the field names of a JSON object; none for any other bytes (not JSON, not UTF-8, too deep)."""
    try:
        body = msgspec.json.decode(value, type=dict[str, msgspec.Raw])
    except (ValueError, RecursionError):  # msgspec.DecodeError and UnicodeDecodeError are ValueErrors
        return set()
    return set(body)


def partner_clean(seen: Sequence[Seen], events: Sequence[Event]) -> Check:
    """No partner message (key, value or header) holds a personal value of the run, an application id (the
    portal's, which may be a name) or a correlation id (which would link one volunteer across topics and
    hosts)."""
    secrets: set[bytes] = set()
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
        if e.event_type not in PARTNER_EVENTS and e.correlation_id:  # partners' own are placement ids
            secrets.add(e.correlation_id.encode())
    partner = [s for s in seen if s.topic == Topic.PARTNER_PLACEMENT_UPDATES or s.topic in PARTNER_TOPICS]
    # `leaked`, for every secret and message at once: whole values by set, the others by substring
    inside = holding_any(secret for secret in secrets if searched_inside(secret))
    whole = {secret for secret in secrets if not searched_inside(secret)}
    leaks = 0
    stated = stated_by_partners(seen)
    for s in partner:
        value = s.record.value or b""
        own = refused_id(value)  # a refusal of the partner's own fact, keyed and correlated by its id
        own = own if own in stated.get(s.topic, set()) else None
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


def stated_by_partners(seen: Sequence[Seen]) -> dict[str, set[bytes]]:
    """For each partner's own topic, the event ids of the facts that partner stated on its own intake
    topics: the only ids a refusal on that topic may give back."""
    stated: dict[str, set[bytes]] = defaultdict(set)
    for s in seen:
        intake = INTAKE_OF_TOPIC.get(s.topic)
        partner = partner_named(str(intake.source)) if intake is not None else None
        if partner is not None and s.event is not None:
            stated[topic_of(partner)].add(s.event.event_id.encode())
    return stated


def reasons_coded(events: Iterable[Event]) -> Check:
    """Every reason a service states on its topic is a code of the closed vocabulary: no person's words or
    values travel in it (shared/contracts/reasons.py)."""
    stated = [(e.event_type, reason) for e in events for reason in stated_reasons(e)]
    free = Counter(kind for kind, reason in stated if reason not in REASON_CODES)
    return Check(
        "every reason is a code",
        not free,
        f"{len(stated)} reasons stated; {sum(free.values())} not a code"
        + "".join(f" ({kind}: {n})" for kind, n in free.most_common(5)),
    )


def dead_letters_explained(seen: Sequence[Seen], expected: int | None) -> Check:
    letters = [s for s in seen if s.topic == Topic.DEAD_LETTER]
    unexplained = sum(
        1
        for s in letters
        if not {"origin-topic", "origin-offset", "error-class", "error-reason"}
        <= {name for name, value in s.record.headers if value}
    )
    ok = unexplained == 0 and (expected is None or len(letters) == expected)
    wanted = "" if expected is None else f" (expected {expected})"
    return Check(
        "every dead letter says where from and why",
        ok,
        f"{len(letters)} dead letters{wanted}; {unexplained} without origin or reason",
    )


def erasures_hold(erased: Sequence[Status], seen: Sequence[Seen]) -> Check:
    """Every volunteer asked to be erased is a tombstone in every service, and no record left on a topic
    that may hold personal data is about them (keyed by their id, or naming it in its bytes)."""
    held = [s.volunteer_id for s in erased if not s.done]
    erasable = set(ERASABLE)
    placements = {erasure.volunteer_id: frozenset(erasure.placements) for erasure in erased}
    left = Counter(
        volunteer
        for s in seen
        if s.topic in erasable
        for volunteer, theirs in placements.items()
        if mentions(s.record, volunteer, theirs)
    )
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
    """Read the topics and the stores of `settings`' namespace and check every invariant."""
    seen = await read_all(settings)
    firsts = first_copies(seen)
    events = [s.event for s in firsts if s.event is not None]
    behind = await lag(settings)
    checks = [
        outcomes_once(events),
        complete(stages(events), expected),
        order_kept(firsts),
        seats_respected(events, await occupancy(settings)),
        partner_clean(seen, events),
        partners_apart(seen),
        reasons_coded(events),
        dead_letters_explained(seen, dead_letters),
        erasures_hold(await erased_volunteers(settings), seen),
        Check(
            "every message applied and committed (no consumer lag)",
            not any(behind.values()),
            ", ".join(f"{service}: {n} behind" for service, n in behind.items()),
        ),
    ]
    applications = len({getattr(e, "application_id", None) for e in events} - {None})
    trimmed = sum(1 for offset in (await log_starts(settings)).values() if offset > 0)
    return Report(
        checks=checks, records=len(seen), applications=applications, since=oldest(seen), trimmed=trimmed
    )


def oldest(seen: Sequence[Seen]) -> dt.datetime | None:
    """When the oldest record read on a topic Envol writes was written (an outsider's timestamps on the
    intake topics are theirs to set): what is older is not audited."""
    return min((s.timestamp for s in seen if s.topic not in INTAKES), default=None)
