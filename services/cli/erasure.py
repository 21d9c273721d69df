"""A volunteer's erasure, for operators: ask it, see each service's tombstones, then delete the records the
topics still hold about the volunteer (docs/privacy.md says why this design, and what it costs others).

1. `request`: the agency's `ErasureRequested` on the application service's agency intake.
2. `status`: each service's aggregates of the volunteer, from its database (read-only, as the auditor);
   done when every application of theirs is a tombstone in all four, and (`Erasing`) each service's
   `ErasureCompleted` of it is on its events topic.
3. `purge`: Kafka deletes records only as a partition's prefix, so each partition holding a record about
   the volunteer is cut after the last one — once every service's group has committed past the cut (it
   needs none of those records again), and once the operators' read model has folded past it (its
   snapshot forgets them only once it reads their erasure). The cut takes other volunteers' older records
   on that partition too: already applied, as retention would take them; on the dead-letter topic, which
   no service reads, the other letters below a cut are written again first, so no letter is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from services.application.mongo import MongoApplicationStore
from services.cli.reading import as_seen, position_key, records
from services.console.snapshots import FOLDED, opened_snapshots
from services.departure.mongo import MongoDepartureStore
from services.grants import ERASABLE, ROUTERS, SERVICES
from services.placement.mongo import MongoPlacementStore
from services.vetting.mongo import MongoVettingStore
from shared.aggregates import Aggregates, Record
from shared.contracts.application import ErasureCompleted, ErasureRequested
from shared.contracts.codec import encode
from shared.contracts.envelope import new_id
from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.mongo import mongo_client
from shared.settings import Settings

POLL_SECONDS = 0.5


class ServiceErasure(msgspec.Struct, frozen=True):
    """What one service holds of the volunteer: its aggregates by id, each erased or not."""

    service: str
    erased: list[str]
    kept: list[str]  # aggregates still holding the volunteer's data


class Status(msgspec.Struct, frozen=True):
    """Where a volunteer's erasure stands in the four services."""

    volunteer_id: str
    requested: bool  # the application service noted the request
    applications: list[str]  # every application of the volunteer the application service knows
    services: list[ServiceErasure]
    placements: list[str] = []  # the ids of their placements departure knows (hosts report by them)

    @property
    def done(self) -> bool:
        """Requested, and every application a tombstone in every service."""
        return self.requested and all(
            set(self.applications) <= set(s.erased) and not s.kept for s in self.services
        )


async def request(settings: Settings, volunteer_id: str) -> str:
    """Publish the agency's erasure request for the volunteer; return its event id."""
    asked = ErasureRequested(
        subject_id=volunteer_id, producer="agency", event_id=new_id(), volunteer_id=volunteer_id
    )
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(Topic.APPLICATION_INTAKE_AGENCY), encode(asked), key=volunteer_id.encode()
        )
    finally:
        await producer.stop()
    return asked.event_id


def _aggregates(settings: Settings, client: Any) -> Mapping[str, Aggregates[Any]]:
    """Each service's aggregates that hold a volunteer's data, keyed by application id."""
    database = {service: client[settings.database(service)] for service in SERVICES}
    return {
        "application": MongoApplicationStore(database["application"]).applications,
        "vetting": MongoVettingStore(database["vetting"]).cases,
        "placement": MongoPlacementStore(database["placement"]).candidates,
        "departure": MongoDepartureStore(database["departure"]).departures,
    }


async def _placements(settings: Settings, client: Any, volunteer_id: str) -> Sequence[Record[Any]]:
    """Departure's placements of the volunteer, keyed by placement id (hosts report by it)."""
    placements = MongoDepartureStore(client[settings.database("departure")]).placements
    return await placements.find({"subject": volunteer_id})


async def status(settings: Settings, volunteer_id: str) -> Status:
    """Read each service's aggregates of the volunteer (by the subject every record keeps)."""
    client = mongo_client(settings, "envol-erasure")
    try:
        requested = await MongoApplicationStore(client[settings.database("application")]).erasures.load(
            volunteer_id
        )
        services, applications = [], []
        placements = await _placements(settings, client, volunteer_id)
        for service, aggregates in _aggregates(settings, client).items():
            found = [*await aggregates.find({"subject": volunteer_id})]
            if service == "application":
                applications = sorted(r.id for r in found)
            if service == "departure":
                found += placements
            services.append(
                ServiceErasure(
                    service,
                    erased=sorted(r.id for r in found if r.erased),
                    kept=sorted(r.id for r in found if not r.erased),
                )
            )
        return Status(
            volunteer_id, requested.version > 0, applications, services, sorted(r.id for r in placements)
        )
    finally:
        await client.close()


async def erased_volunteers(settings: Settings) -> list[Status]:
    """Where the erasure of every volunteer the application service was asked to erase stands."""
    client = mongo_client(settings, "envol-erasure")
    try:
        asked = await MongoApplicationStore(client[settings.database("application")]).erasures.find({})
    finally:
        await client.close()
    return [await status(settings, volunteer_id) for volunteer_id in sorted(r.id for r in asked)]


EVENTS = (Topic.APPLICATION_EVENTS, Topic.VETTING_EVENTS, Topic.PLACEMENT_EVENTS, Topic.DEPARTURE_EVENTS)


class Erasing:
    """Reads the services' events topics from their start, to see each service's ErasureCompleted for each
    application of the volunteer. A request again (`envol erase` run twice) makes no new ones: the services'
    tombstones take it as applied, so those of the first request are what tells."""

    def __init__(self, settings: Settings, volunteer_id: str) -> None:
        self.settings, self.volunteer_id = settings, volunteer_id
        names = [settings.topic(topic) for topic in EVENTS]
        self.consumer = AIOKafkaConsumer(*names, **client_options(settings), enable_auto_commit=False)
        self.completed: set[tuple[str, str]] = set()  # (service, application id)

    async def __aenter__(self) -> Erasing:
        await self.consumer.start()  # no group: every partition of the topics is assigned at start
        await self.consumer.seek_to_beginning(*self.consumer.assignment())
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def read(self) -> None:
        """Note every ErasureCompleted about the volunteer written since the last read."""
        for found in (await self.consumer.getmany(timeout_ms=200)).values():
            for record in found:
                if record.key != self.volunteer_id.encode():
                    continue
                event = as_seen(self.settings, record).event
                if isinstance(event, ErasureCompleted):
                    self.completed.add((event.producer, event.application_id))

    async def caught_up(self) -> bool:
        """Whether it has read every record the topics hold now."""
        ends = await self.consumer.end_offsets(list(self.consumer.assignment()))
        return all([await self.consumer.position(p) >= end for p, end in ends.items()])

    def told(self, found: Status) -> bool:
        """Whether every service said it erased every application of the volunteer."""
        return all((service, a) in self.completed for service in SERVICES for a in found.applications)

    async def cut_before(self, found: Status) -> bool:
        """Whether an earlier `envol erase` deleted the services' news already: done in every store, read to
        the end, and no news of it left on any topic."""
        return found.done and not self.completed and await self.caught_up()

    async def wait(self, seconds: float, seen: Callable[[Status], None] | None = None) -> Status:
        """Read until the erasure is done (tombstones in every store, and every service's news of it on its
        topic, or none left by an earlier run) or `seconds` pass; return the last status read."""
        deadline = time.monotonic() + seconds
        checked = 0.0
        while True:
            await self.read()
            if time.monotonic() - checked >= POLL_SECONDS:
                checked = time.monotonic()
                found = await status(self.settings, self.volunteer_id)
                if seen:
                    seen(found)
                if (found.done and (self.told(found) or await self.cut_before(found))) or checked >= deadline:
                    return found


async def erase_everywhere(settings: Settings, volunteer_id: str, seconds: float) -> tuple[Status, bool]:
    """Ask the erasure and wait for it; return the last status, and whether every service said so (or an
    earlier run deleted what they said)."""
    async with Erasing(settings, volunteer_id) as erasing:
        await request(settings, volunteer_id)
        found = await erasing.wait(seconds)
        return found, found.done and (erasing.told(found) or await erasing.cut_before(found))


def mentions(record: ConsumerRecord[Any, Any], volunteer_id: str, placements: Set[str] = frozenset()) -> bool:
    """Whether a record is about the volunteer: keyed by their id or by one of their `placements` (a host's
    report by placement id names no volunteer), or naming their id as a JSON string anywhere in its bytes
    (a record keyed wrongly, a dead letter, an undecodable one)."""
    key, value = (record.key or b"").decode(errors="replace"), record.value or b""
    return key == volunteer_id or key in placements or f'"{volunteer_id}"'.encode() in value


async def placements_of(settings: Settings, volunteer_id: str) -> frozenset[str]:
    """The ids of the volunteer's placements, as the departure service knows them (by the subject every
    record keeps)."""
    client = mongo_client(settings, "envol-erasure")
    try:
        return frozenset(r.id for r in await _placements(settings, client, volunteer_id))
    finally:
        await client.close()


class Cut(msgspec.Struct, frozen=True):
    """One partition cut after the volunteer's last record there."""

    topic: str
    partition: int
    before: int  # the offset the partition starts at afterwards
    theirs: int  # the volunteer's records taken
    others: int  # other records taken (applied already; dead letters written again first)


class Found(msgspec.Struct):
    """What a scan found: the cuts to make, and the dead letters of others below them."""

    cuts: list[Cut]
    kept_letters: list[ConsumerRecord[Any, Any]]

    @property
    def theirs(self) -> int:
        return sum(cut.theirs for cut in self.cuts)


class Cutting:
    """Finds, from every record of the erasable topics seen once in offset order, where each partition
    must be cut so that no record about the volunteer is left (a partition with none is not cut), and which
    other dead letters the cuts would take. Keeps offsets, not records, except those dead letters."""

    def __init__(self, volunteer_id: str, dead_letter: str, placements: Set[str] = frozenset()) -> None:
        self.volunteer_id, self.dead_letter, self.placements = volunteer_id, dead_letter, placements
        self.last: dict[TopicPartition, int] = {}  # the offset of the volunteer's last record there
        self.theirs: dict[TopicPartition, int] = defaultdict(int)  # how many records of theirs
        self.others: dict[TopicPartition, list[int]] = defaultdict(list)  # offsets of others' records
        self.letters: list[ConsumerRecord[Any, Any]] = []  # others' dead letters

    def see(self, record: ConsumerRecord[Any, Any]) -> None:
        where = TopicPartition(record.topic, record.partition)
        if mentions(record, self.volunteer_id, self.placements):
            self.last[where] = max(record.offset, self.last.get(where, -1))
            self.theirs[where] += 1
            return
        self.others[where].append(record.offset)
        if record.topic == self.dead_letter:
            self.letters.append(record)

    def found(self) -> Found:
        cuts = []
        for where, last in sorted(self.last.items()):
            others = sum(offset < last for offset in self.others[where])
            cuts.append(Cut(where.topic, where.partition, last + 1, self.theirs[where], others))
        kept = [r for r in self.letters if r.offset < self.last.get(TopicPartition(r.topic, r.partition), -1)]
        return Found(cuts, kept)


async def scan(settings: Settings, volunteer_id: str, placements: Set[str]) -> Found:
    """Read every erasable topic from its start, and find where each partition must be cut (the records
    keyed by one of the volunteer's `placements` are theirs too)."""
    cutting = Cutting(volunteer_id, settings.topic(Topic.DEAD_LETTER), placements)
    async for record in records(settings, [settings.topic(t) for t in ERASABLE]):
        cutting.see(record)
    return cutting.found()


def readers(settings: Settings) -> dict[str, list[str]]:
    """The service groups that consume each topic (the dead-letter topic has none)."""
    found: dict[str, list[str]] = defaultdict(list)
    for router in ROUTERS:
        for topic in router.CONSUMES:
            found[settings.topic(topic)].append(settings.group(router.NAME))
    return found


async def unconsumed(settings: Settings, cuts: Sequence[Cut]) -> list[str]:
    """The cuts some service's group has not committed past yet, each as 'group topic:partition'."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        groups = readers(settings)
        committed = {
            group: await admin.list_consumer_group_offsets(group)
            for group in {g for cut in cuts for g in groups[cut.topic]}
        }
        waiting = []
        for cut in cuts:
            where = TopicPartition(cut.topic, cut.partition)
            for group in groups[cut.topic]:
                offset = committed[group].get(where)
                if offset is None or offset.offset < cut.before:
                    waiting.append(f"{group} {cut.topic}:{cut.partition}")
        return waiting + await read_model_behind(settings, cuts)
    finally:
        await admin.close()


async def read_model_behind(settings: Settings, cuts: Sequence[Cut]) -> list[str]:
    """The cuts the operators' read model has not folded past yet: its snapshot would keep the volunteer
    (their application id) if the records that erase them were cut before it read them. None to wait
    for when no console has saved one."""
    async with opened_snapshots(settings, "envol-erasure") as snapshots:
        positions = await snapshots.positions()
    if positions is None:
        return []
    folded = {settings.topic(topic) for topic in FOLDED}
    return [
        f"the operators' read model {cut.topic}:{cut.partition}"
        for cut in cuts
        if cut.topic in folded and positions.get(position_key(cut.topic, cut.partition), 0) < cut.before
    ]


class Purge(msgspec.Struct, frozen=True):
    """What a purge did: the partitions cut, the dead letters written again, and what waits still."""

    cuts: list[Cut]
    rewritten: int
    waiting: list[str]  # not cut: a service's group, or the read model, is not past the volunteer's records
    left: int = 0  # records about the volunteer found after the cuts (written meanwhile: erase again)


async def purge(settings: Settings, volunteer_id: str, seconds: float = 60.0) -> Purge:
    """Cut every partition after the volunteer's last record, once every reader is past it (waiting up to
    `seconds`); the other dead letters below a cut are written again first. Then read the topics again,
    to count what is left about the volunteer."""
    placements = await placements_of(settings, volunteer_id)
    found = await scan(settings, volunteer_id, placements)
    deadline = time.monotonic() + seconds
    waiting = await unconsumed(settings, found.cuts)
    while waiting and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        waiting = await unconsumed(settings, found.cuts)
    if waiting or not found.cuts:
        return Purge([], 0, waiting)
    await _write_again(settings, found.kept_letters)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.delete_records(
            {
                TopicPartition(c.topic, c.partition): RecordsToDelete(before_offset=c.before)
                for c in found.cuts
            }
        )
    finally:
        await admin.close()
    left = (await scan(settings, volunteer_id, placements)).theirs  # a redelivery may have written some
    return Purge(found.cuts, len(found.kept_letters), [], left)


async def _write_again(settings: Settings, letters: Sequence[ConsumerRecord[Any, Any]]) -> None:
    """Append dead letters again, as they were (key, bytes, headers), so a cut below them loses none."""
    if not letters:
        return
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers), partition=r.partition)
            for r in letters
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
