"""PyMongo's async API against the real MongoDB-protocol server: writes, reads, unique keys, versions."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.errors import DuplicateKeyError

from services.application.domain import Application, Status
from services.application.mongo import MongoClaims
from services.simulator.servers import backend
from shared.aggregates import Outgoing, Record
from shared.contracts.types import Scheme
from shared.mongo import MongoAggregates
from shared.retry import ConcurrentWriteError
from shared.settings import Settings

Client = AsyncMongoClient[dict[str, Any]]


async def test_a_document_written_is_read_back(mongo: Client, settings: Settings) -> None:
    collection = mongo[settings.database("probe")]["things"]
    await collection.insert_one({"_id": "a", "n": 1, "tags": ["x", "y"]})
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "n": 1, "tags": ["x", "y"]}


async def test_a_second_insert_with_the_same_unique_key_raises_duplicate_key_error(
    mongo: Client, settings: Settings
) -> None:
    collection = mongo[settings.database("probe")]["seats"]
    await collection.create_index([("opening", 1), ("seat", 1)], unique=True)
    await collection.insert_one({"opening": "o1", "seat": 1})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"opening": "o1", "seat": 1})
    assert await collection.count_documents({"opening": "o1"}) == 1


def applications(
    mongo: Client, settings: Settings, collection: str
) -> tuple[MongoAggregates[Application], Application]:
    """Applications stored in a collection of the probe database, and the state of a received one."""
    store: MongoAggregates[Application] = MongoAggregates(
        mongo[settings.database("probe")][collection], Application
    )
    return store, Application(status=Status.RECEIVED, volunteer_id="vol-1", scheme=Scheme.VSI)


async def test_an_aggregate_round_trips_and_a_stale_save_is_refused(
    mongo: Client, settings: Settings
) -> None:
    store, state = applications(mongo, settings, "apps")
    outgoing = Outgoing("envol.application.events", "vol-1", "evt-1", b'{"x":1}')
    saved = await store.save(Record[Application](id="app-1").applying("evt-0", state, [outgoing]))
    loaded = await store.load("app-1")
    assert loaded == saved
    assert loaded.outbox == (msgspec.structs.replace(outgoing, cause="evt-0"),)
    await store.save(loaded.applying("evt-1", state, []))
    with pytest.raises(ConcurrentWriteError):
        await store.save(loaded)  # the version it was loaded at is gone
    with pytest.raises(ConcurrentWriteError):
        await store.save(Record[Application](id="app-1"))  # a second first insert
    assert (await store.load("app-1")).applied == ("evt-0", "evt-1")


async def test_concurrent_saves_of_one_version_let_exactly_one_win(mongo: Client, settings: Settings) -> None:
    """Twenty handlers of one process save the same loaded version at once (facts naming one aggregate
    under twenty keys): one save wins, the others must retry; none is silently overwritten."""
    store, state = applications(mongo, settings, "racing")
    first = await store.save(Record[Application](id="app-1").applying("evt-0", state, []))

    async def save(n: int) -> bool:
        try:
            await store.save(first.applying(f"evt-{n}", state, []))
        except ConcurrentWriteError:
            return False
        return True

    won = await asyncio.gather(*(save(n) for n in range(1, 21)))
    assert sum(won) == 1
    stored = await store.load("app-1")
    assert stored.version == 2 and stored.applied == ("evt-0", f"evt-{won.index(True) + 1}")


async def test_aggregates_load_and_save_in_bulk_and_a_stale_one_is_refused_alone(
    mongo: Client, settings: Settings
) -> None:
    store, state = applications(mongo, settings, "bulk-aggregates")
    ids = [f"app-{n}" for n in range(150)]
    new = await store.load_many(ids)
    assert [r.version for r in new.values()] == [0] * 150
    first = await store.save_many([r.applying("evt-0", state, []) for r in new.values()])  # 150 inserts
    loaded = await store.load_many([*ids, "app-none"])
    assert [loaded[i] for i in ids] == first and loaded["app-none"] == Record(id="app-none")
    stale = loaded["app-7"]
    await store.save(stale.applying("evt-other", state, []))  # another writer comes first to one
    again = [loaded[i].applying("evt-1", state, []) for i in ids]
    with pytest.raises(ConcurrentWriteError):
        await store.save_many([*again, Record[Application](id="app-new").applying("evt-0", state, [])])
    stored = await store.load_many([*ids, "app-new"])
    assert stored["app-7"].applied == ("evt-0", "evt-other")  # not overwritten
    assert all(stored[i].applied == ("evt-0", "evt-1") for i in ids if i != "app-7")
    assert stored["app-new"].version == 1
    with pytest.raises(ConcurrentWriteError):
        await store.save_many([stored["app-1"], Record[Application](id="app-new")])  # a second first insert
    assert (await store.load("app-1")).version == 3


async def test_claims_asked_in_bulk_go_to_the_first_claimant_and_stay_with_their_holder(
    mongo: Client, settings: Settings
) -> None:
    claims = MongoClaims(mongo[settings.database("probe")])
    await claims.claim_many([("vol-0:vsi", "app-0")])  # held before the batch
    asked = [
        ("vol-0:vsi", "app-x"),
        ("vol-0:vsi", "app-0"),
        *((f"vol-{n}:vsi", f"app-{n}") for n in range(1, 120)),
    ]
    asked += [("vol-1:vsi", "app-other"), ("vol-1:vsi", "app-1")]  # a rival, and a redelivered claim
    granted = await claims.claim_many(asked)
    assert granted[("vol-0:vsi", "app-x")] is False and granted[("vol-0:vsi", "app-0")] is True
    assert all(granted[(f"vol-{n}:vsi", f"app-{n}")] for n in range(1, 120))
    assert granted[("vol-1:vsi", "app-other")] is False
    assert await claims.collection.count_documents({}) == 120


async def test_a_bulk_write_of_five_hundred_replaces_of_existing_documents_answers(
    mongo: Client, settings: Settings
) -> None:
    # FerretDB v1.24.2 as released never answers from the 100th replace that finds its document (each kept
    # a connection of a pool of 100 until the end of the command); deploy/local/ferretdb.sh patches it.
    collection = mongo[settings.database("probe")]["bulk"]
    await collection.insert_many([{"_id": f"d{i}", "v": 0} for i in range(500)])
    replaces = [ReplaceOne({"_id": f"d{i}"}, {"_id": f"d{i}", "v": 1}) for i in range(500)]
    done = await asyncio.wait_for(collection.bulk_write(replaces, ordered=True), timeout=60)
    assert (done.matched_count, done.modified_count) == (500, 500)
    assert await collection.count_documents({"v": 1}) == 500


def assert_on_the_id_index(plan: dict[str, Any]) -> None:
    """FerretDB's plan reads the `_id` index: on SQLite, with the patch. On PostgreSQL, FerretDB v1 filters
    `_id` by JSON containment, which no index serves: the plan scans the table whatever we do, one of the
    reasons SQLite is the default (docs/benchmarks.md, 'The database backend')."""
    if backend() == "postgresql":
        assert "Seq Scan" in str(plan["queryPlanner"]), plan  # as documented; if it changes, say so there
    else:
        assert plan["filterPushdown"] and "USING INDEX" in str(plan["queryPlanner"]), plan


async def test_a_find_by_a_list_of_ids_reads_the_id_index_not_the_collection(
    mongo: Client, settings: Settings
) -> None:
    # FerretDB v1.24.2 as released pushes only a single `_id` down to SQLite and decodes the whole
    # collection for an `$in` list; deploy/local/ferretdb.sh patches it (ferretdb-id-pushdown.patch).
    database = mongo[settings.database("probe")]
    await database["listed"].insert_many([{"_id": f"d{i}", "v": i} for i in range(50)])
    wanted = {"_id": {"$in": ["d3", "d7", "d11"]}}
    found = await database["listed"].find(wanted).to_list()
    assert sorted(d["v"] for d in found) == [3, 7, 11]
    plan = await database.command("explain", {"find": "listed", "filter": wanted})
    if "ferretdbVersion" in plan["serverInfo"]:
        assert_on_the_id_index(plan)
    else:  # MongoDB plans it on its _id index by itself
        assert "COLLSCAN" not in str(plan["queryPlanner"]["winningPlan"]), plan
    mixed = await database["listed"].find({"_id": {"$in": ["d3", 7]}}).to_list()  # not pushed down
    assert [d["v"] for d in mixed] == [3]


async def test_an_id_beside_other_conditions_reads_the_id_index_and_the_others_still_filter(
    mongo: Client, settings: Settings
) -> None:
    # the conditional write of every save filters on {_id, version}; FerretDB v1.24.2 as released pushes
    # nothing down for it and decodes the whole collection (ferretdb-id-pushdown.patch)
    database = mongo[settings.database("probe")]
    await database["versioned"].insert_many([{"_id": f"d{i}", "version": i % 3} for i in range(50)])
    plan = await database.command("explain", {"find": "versioned", "filter": {"_id": "d7", "version": 1}})
    if "ferretdbVersion" in plan["serverInfo"]:
        assert_on_the_id_index(plan)
    written = await database["versioned"].replace_one({"_id": "d7", "version": 1}, {"version": 2})
    stale = await database["versioned"].replace_one({"_id": "d8", "version": 0}, {"version": 9})  # it is 2
    assert (written.matched_count, stale.matched_count) == (1, 0)
    assert await database["versioned"].find_one({"_id": "d8"}) == {"_id": "d8", "version": 2}
