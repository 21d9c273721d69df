"""Hostile inputs on the running system: send them with a plain producer, then check each offset's end.

Every offset sent ends applied xor dead-lettered: one that does not decode must be in the dead-letter topic
with its origin, an error class and a reason; one that decodes is either there or its effect is stored
(its event id in the aggregate it names, in the service's own database). No reason names a person.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from services.cli.audit import Check
from services.cli.reading import records
from services.simulator.play import Outside
from shared.contracts.application import ErasureRequested
from shared.contracts.codec import ContractError, decode_sent
from shared.contracts.departure import PlacementReported
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC
from shared.contracts.placement import HostingApproved, OpeningPublished
from shared.contracts.topics import Topic
from shared.mongo import mongo_client
from shared.settings import Settings

Origin = tuple[str, int, int]  # broker-side topic, partition, offset


class Input(Protocol):
    """A message to send: its contract topic, key and bytes."""

    @property
    def topic(self) -> Topic: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes: ...


class Sent(msgspec.Struct, frozen=True):
    """Where an input landed, and where its effect must be if it decodes: (service, collection, id)."""

    origin: Origin
    effect: tuple[str, str, str] | None
    identity: str | None  # what the effect records (`Event.identity`; None for an input that does not decode)


async def send(settings: Settings, inputs: Sequence[Input], chunk: int = 500) -> list[Sent]:
    """Send the inputs to their intake topics, waiting for every ack; return where each landed."""
    sent: list[Sent] = []
    async with Outside(settings) as outside:
        for start in range(0, len(inputs), chunk):
            part = inputs[start : start + chunk]
            acks = [
                await outside.producer(m.topic).send(settings.topic(m.topic), m.value, key=m.key)
                for m in part
            ]
            for message, ack in zip(part, await asyncio.gather(*acks), strict=True):
                sent.append(_sent(message, (ack.topic, ack.partition, ack.offset)))
    return sent


def _sent(message: Input, origin: Origin) -> Sent:
    try:
        event = decode_sent(message.topic, message.key, message.value)
    except ContractError:
        return Sent(origin, None, None)
    return Sent(origin, _effect(message.topic, event), event.identity)


COLLECTION_OF_SERVICE = {
    "application": "applications",
    "vetting": "vetting_cases",
    "placement": "candidates",
    "departure": "departures",
}


def _effect(topic: Topic, event: Event) -> tuple[str, str, str]:
    service = INTAKE_OF_TOPIC[topic].service
    if isinstance(event, OpeningPublished | HostingApproved):  # facts about an opening, applied to it
        return service, "openings", event.subject_id
    if isinstance(event, ErasureRequested):  # noted under the volunteer, whose applications it then erases
        return service, "erasures", event.volunteer_id
    if isinstance(event, PlacementReported):  # kept on its placement (no case follows one of the fuzzing's)
        return service, "placements", event.placement_id
    return service, COLLECTION_OF_SERVICE[service], getattr(event, "application_id", "")


async def applied_xor_dead_lettered(settings: Settings, sent: Sequence[Sent], names: Sequence[str]) -> Check:
    """Check every sent offset's end; `names` are the personal names the inputs were made from."""
    letters: Counter[Origin] = Counter()
    unexplained = leaks = 0
    words = {w for name in names for w in re.findall(r"\w{4,}", name)}
    async for record in records(settings, [settings.topic(Topic.DEAD_LETTER)]):
        headers = {name: raw.decode(errors="replace") for name, raw in record.headers}
        try:
            letters[
                (headers["origin-topic"], int(headers["origin-partition"]), int(headers["origin-offset"]))
            ] += 1
        except (KeyError, ValueError):
            unexplained += 1
            continue
        unexplained += not (headers.get("error-class") and headers.get("error-reason", "").strip())
        leaks += any(word in headers["error-reason"] for word in words)
    stored = await _stored(settings, [s for s in sent if s.effect is not None])
    both = twice = applied = dead_lettered = 0
    lost: list[Sent] = []  # neither applied nor dead-lettered
    for item in sent:
        dead = letters[item.origin]
        done = item.effect is not None and _applied(stored.get(item.effect), item.identity)
        if not dead and not done:
            lost.append(item)
        both += bool(dead) and done
        twice += dead > 1
        applied += done
        dead_lettered += bool(dead)
    origins = {item.origin for item in sent}
    elsewhere = sum(n for origin, n in letters.items() if origin not in origins)
    ok = len(lost) == both == unexplained == leaks == 0
    detail = (
        f"{len(sent)} hostile offsets: {dead_lettered} dead-lettered, {applied} applied; "
        f"neither {len(lost)}, "
        f"both {both}; dead-lettered twice {twice}; {unexplained} letters without origin or reason, "
        f"{leaks} naming a person; {elsewhere} other dead letters (downstream of applied inputs)"
        + "".join(f"; neither: {i.origin} for {i.effect} ({i.identity})" for i in lost[:5])
    )
    return Check("every hostile offset applied xor dead-lettered", ok, detail)


def _applied(document: dict[str, Any] | None, identity: str | None) -> bool:
    return document is not None and identity in document.get("applied", ())


async def _stored(settings: Settings, sent: Sequence[Sent]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The aggregate documents the decodable inputs name, by (service, collection, id)."""
    client = mongo_client(settings, "envol-fuzz")
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    try:
        wanted: dict[tuple[str, str], set[str]] = {}
        for item in sent:
            assert item.effect is not None
            wanted.setdefault(item.effect[:2], set()).add(item.effect[2])
        for (service, collection), ids in wanted.items():
            documents = client[settings.database(service)][collection]
            ordered = sorted(ids)
            for start in range(0, len(ordered), 1000):
                query = {"_id": {"$in": ordered[start : start + 1000]}}
                async for document in documents.find(query, {"applied": 1}):
                    found[(service, collection, document["_id"])] = document
    finally:
        await client.close()
    return found
