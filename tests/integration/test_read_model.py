"""The operators' read model on the real servers: the console's snapshot in the database, and
`envol status` counting from it after retention deleted the records it was folded from."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from pymongo import AsyncMongoClient

from services.cli.audit import audit
from services.cli.erasure import Cut, read_model_behind
from services.cli.reading import read
from services.console import snapshots as snapshots_module
from services.console.app import Console
from services.console.snapshots import FOLDED, Snapshots, current_view, fold
from services.console.view import View
from services.grants import VIEWS
from shared import samples
from shared.admin import ensure_topics
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic, partner_intake
from shared.kafka import client_options
from shared.settings import Settings
from tests.unit.test_placement_domain import received

Client = AsyncMongoClient[dict[str, Any]]


def own(settings: Settings, tag: str) -> Settings:
    """The same servers, in a namespace of this test's own that no service process listens to."""
    return msgspec.structs.replace(settings, namespace=f"{settings.namespace}-{tag}")


async def send(settings: Settings, events: list[Event]) -> None:
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for event in events:
            topic = Topic.APPLICATION_EVENTS
            await producer.send_and_wait(settings.topic(topic), encode(event), key=event.subject_id.encode())
    finally:
        await producer.stop()


async def delete_every_record(settings: Settings) -> None:
    """What retention does to old records: delete every record of the topics the read model folds."""
    consumer = AIOKafkaConsumer(**client_options(settings))
    await consumer.start()
    count = range(settings.topic_partitions)
    partitions = [TopicPartition(settings.topic(t), p) for t in FOLDED for p in count]
    ends = await consumer.end_offsets(partitions)
    await consumer.stop()
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.delete_records({p: RecordsToDelete(before_offset=end) for p, end in ends.items() if end})
    finally:
        await admin.close()


def applications(n: int, tag: str) -> list[Event]:
    return [received(samples.submitted(f"{tag}-app-{k}", volunteer_fields={"volunteer_id": f"{tag}-vol-{k}"}))
            for k in range(n)]  # fmt: skip


async def test_status_counts_from_the_snapshot_what_retention_deleted(
    settings: Settings, mongo: Client, monkeypatch: Any
) -> None:
    ns = own(settings, "views")
    await ensure_topics(ns)
    monkeypatch.setattr(snapshots_module, "CHUNK", 64)  # a snapshot of many chunks, as a large one is
    snapshots = Snapshots(mongo[ns.database(VIEWS)], ns.namespace, ns.contract_topic)
    before = applications(5, ns.namespace)
    await send(ns, before)
    console = Console(ns, snapshots)
    following = asyncio.create_task(console.follow())
    async with console.changed:
        await asyncio.wait_for(console.changed.wait_for(lambda: console.view.records >= 5), 60)
    following.cancel()
    size = await snapshots.save(console.view, console.positions)
    assert size > 3 * 64  # written in several chunks
    await Snapshots(mongo[ns.database(VIEWS)], f"{ns.namespace}-other", ns.contract_topic).save(
        View(), {"x:0": 1}
    )  # its own
    await delete_every_record(ns)
    await send(ns, applications(2, f"{ns.namespace}-later"))

    from_topics = View()
    async for seen in read(ns, FOLDED):
        fold(from_topics, seen)
    assert len(from_topics.stages) == 2  # the topics alone have forgotten the first five
    view, problem = await current_view(ns)
    assert problem is None
    assert len(view.stages) == 7 and set(view.stages.values()) == {"2 in vetting"}
    restored = await snapshots.load()
    assert restored is not None and restored.view == View.restored(console.view.snapshot())


async def test_the_audit_judges_from_the_snapshot_what_retention_deleted(
    settings: Settings, mongo: Client
) -> None:
    """An outcome published twice is found by the audit after retention deleted both copies, from the
    console's snapshot; without the snapshot, the topics alone have nothing left to judge, and the audit
    says how many records it could not."""
    ns = own(settings, "views-audit")
    await ensure_topics(ns)
    snapshots = Snapshots(mongo[ns.database(VIEWS)], ns.namespace, ns.contract_topic)
    made = applications(3, ns.namespace)
    twice = msgspec.structs.replace(made[0], event_id=f"{made[0].event_id}-again")  # a new id: not a copy
    await send(ns, [*made, twice])
    console = Console(ns, snapshots)
    following = asyncio.create_task(console.follow())
    async with console.changed:
        await asyncio.wait_for(console.changed.wait_for(lambda: console.view.records >= 4), 60)
    following.cancel()
    await snapshots.save(console.view, console.positions)
    await delete_every_record(ns)

    report = await audit(ns)
    outcomes = next(check for check in report.checks if check.name == "each outcome at most once")
    assert not outcomes.ok and f"{made[0].application_id} ApplicationReceived" in outcomes.detail
    assert report.records == 4 and report.missed == 0 and report.applications == 3

    await snapshots.latest.update_many({}, {"$unset": {"history": ""}})  # as saved before it was kept
    upgraded = await audit(ns)
    assert upgraded.records == 0 and upgraded.missed == 4  # what the console folded then: not audited

    await snapshots.latest.delete_many({})  # no read model: the audit reads what the topics still hold
    alone = await audit(ns)
    assert alone.records == 0 and alone.missed == 4  # the emptied partitions' records, not judged
    assert all(check.ok for check in alone.checks if check.name == "each outcome at most once")


async def test_an_erasure_cut_waits_for_the_read_model_to_fold_past_it(
    settings: Settings, mongo: Client
) -> None:
    ns = own(settings, "views-erase")
    topic, other = ns.topic(Topic.APPLICATION_EVENTS), ns.topic(partner_intake("departure", "partner-npc"))
    cuts = [Cut(topic, 0, 5, 1, 0), Cut(topic, 1, 3, 1, 0), Cut(other, 0, 9, 1, 0)]
    assert await read_model_behind(ns, cuts) == []  # no console has saved a read model here
    await Snapshots(mongo[ns.database(VIEWS)], ns.namespace, ns.contract_topic).save(
        View(), {f"{topic}:0": 5, f"{topic}:1": 2}
    )
    behind = await read_model_behind(ns, cuts)  # a partner's intake too: folded for the audit's history
    assert behind == [f"the operators' read model {topic}:1", f"the operators' read model {other}:0"]


async def test_a_save_deletes_the_chunks_of_the_snapshot_it_replaces_and_no_others(
    settings: Settings, mongo: Client
) -> None:
    ns = own(settings, "views-chunks")
    snapshots = Snapshots(mongo[ns.database(VIEWS)], ns.namespace, ns.contract_topic)
    await snapshots.save(View(), {"t:0": 1})
    first = await snapshots.latest.find_one({"_id": snapshots.key})
    assert first is not None
    # another console of the namespace, half-way through writing its own snapshot
    await snapshots.chunks.insert_one({"_id": "theirs:0", "scope": ns.namespace, "snapshot": "theirs"})
    await snapshots.save(View(records=2), {"t:0": 2})
    left = {d["snapshot"] async for d in snapshots.chunks.find({"scope": ns.namespace})}
    assert first["snapshot"] not in left and "theirs" in left and len(left) == 2
    loaded = await snapshots.load()
    assert loaded is not None and loaded.view.records == 2 and loaded.positions == {"t:0": 2}
