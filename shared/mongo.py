"""The PyMongo async client factory and the MongoDB aggregates adapter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Generic, TypeVar

import msgspec
from pymongo import AsyncMongoClient, InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.aggregates import Record, from_document, to_document
from shared.retry import ConcurrentWriteError
from shared.settings import Settings, password_in_file

S = TypeVar("S")


def mongo_client(settings: Settings, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    """Return an async client, as the settings' user; it connects lazily, on first use."""
    return AsyncMongoClient(
        settings.mongodb_url,
        appname=app_name,
        serverSelectionTimeoutMS=5000,
        tz_aware=True,
        w="majority",
        **credentials(settings),
    )


def credentials(settings: Settings) -> dict[str, Any]:
    """The user a client authenticates as, when MONGODB_USERNAME names one (authenticated against `admin`,
    where the local stack and `make topics` keep the users); none otherwise, so a user given in
    MONGODB_URL applies. Without MONGODB_PASSWORD the password is the user's line of the passwords file."""
    if not settings.mongodb_username:
        return {}
    password = settings.mongodb_password or password_in_file(
        settings.mongodb_passwords_file, "ENVOL_MONGODB_PASSWORDS", settings.mongodb_username
    )
    if not password:
        raise ValueError("MONGODB_USERNAME needs MONGODB_PASSWORD (or ENVOL_MONGODB_PASSWORDS)")
    return {"username": settings.mongodb_username, "password": password, "authSource": "admin"}


async def put(collection: AsyncCollection[dict[str, Any]], key: str, document: dict[str, Any]) -> None:
    """Write the document with this `_id`, whether or not it exists. Two upserts of a missing key at once
    make one of them fail with a duplicate key (on MongoDB as on FerretDB); the document exists then, so
    writing again replaces it."""
    try:
        await collection.replace_one({"_id": key}, document, upsert=True)
    except DuplicateKeyError:
        await collection.replace_one({"_id": key}, document, upsert=True)


Conditional = tuple[str, dict[str, Any], dict[str, Any]]  # `_id`, the fields it must still have, document
DUPLICATE_KEY = 11000


def only_duplicates(error: BulkWriteError) -> bool:
    """Whether a bulk write failed only on documents that exist already (every other write done, and
    acknowledged as the write concern asks)."""
    details = error.details
    return not details.get("writeConcernErrors") and all(
        e.get("code") == DUPLICATE_KEY for e in details.get("writeErrors", ())
    )


class Keyed:
    """Conditional writes by `_id`: each one filtered write (`{_id, **expected}`) on its `_id` index.

    MongoDB applies such a write atomically. FerretDB v1 reads, compares and writes without a lock, so on
    it the writes of this process to one key are serialised by a lock: two coroutines comparing at once
    would both see the old version and one write would be lost (the fuzz run found it, with hostile facts
    naming one aggregate under many keys). Two processes writing one document at the same instant are not
    serialised on FerretDB; on MongoDB they are. FerretDB as released pushes an `_id` down to its index only
    when it is the whole filter; `deploy/local/ferretdb.sh` patches it to push it down beside other
    conditions too (unpatched, each conditional write reads the whole collection).
    """

    STRIPES = 64  # locks shared by hash of the key: bounded, and distinct keys rarely wait for each other

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection
        self.atomic: bool | None = None  # known after the first conditional write
        self.stripes = [asyncio.Lock() for _ in range(self.STRIPES)]

    async def _is_atomic(self) -> bool:
        if self.atomic is None:
            info = await self.collection.database.client.admin.command("buildInfo")
            self.atomic = "ferretdbVersion" not in info
        return self.atomic

    @contextlib.asynccontextmanager
    async def _serialised(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """Hold the locks of these keys where the server does not serialise writes to one document; taken
        in ascending order everywhere, so two holders never deadlock."""
        async with contextlib.AsyncExitStack() as stack:
            if not await self._is_atomic():
                for stripe in sorted({hash(key) % self.STRIPES for key in keys}):
                    await stack.enter_async_context(self.stripes[stripe])
            yield

    async def replace_if(self, key: str, expected: dict[str, Any], document: dict[str, Any]) -> bool:
        """Replace the document if it still has the `expected` fields; tell whether it did."""
        async with self._serialised([key]):
            return (await self.collection.replace_one({"_id": key, **expected}, document)).matched_count == 1

    async def write_if(self, inserts: Sequence[dict[str, Any]], replaces: Sequence[Conditional]) -> bool:
        """Insert these documents and replace each other one that still has its `expected` fields, in one
        bulk write (each document whole or not at all); tell whether every one was written."""
        requests: list[Any] = [
            *(InsertOne(d) for d in inserts),
            *(ReplaceOne({"_id": k, **e}, d) for k, e, d in replaces),
        ]
        if not requests:
            return True
        async with self._serialised(k for k, _, _ in replaces):
            try:
                result = await self.collection.bulk_write(requests, ordered=False)
            except BulkWriteError as error:
                if not only_duplicates(error):
                    raise
                return False  # another writer inserted one first
        return result.matched_count == len(replaces)

    async def delete_if(self, key: str, expected: dict[str, Any]) -> bool:
        """Delete the document if it has the `expected` fields; tell whether it did."""
        async with self._serialised([key]):
            return (await self.collection.delete_one({"_id": key, **expected})).deleted_count == 1


class MongoAggregates(Generic[S]):
    """Aggregates in one collection; each save is one atomic document write guarded by its version."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], state_type: Any) -> None:
        self.collection = collection
        self.keyed = Keyed(collection)
        self.state_type = state_type

    async def load(self, aggregate_id: str) -> Record[S]:
        document = await self.collection.find_one({"_id": aggregate_id})
        return Record(id=aggregate_id) if document is None else from_document(document, self.state_type)

    async def load_many(self, aggregate_ids: Sequence[str]) -> dict[str, Record[S]]:
        if len(aggregate_ids) == 1:
            return {aggregate_ids[0]: await self.load(aggregate_ids[0])}
        found = self.collection.find({"_id": {"$in": list(aggregate_ids)}})
        stored = {d["_id"]: from_document(d, self.state_type) async for d in found}
        return {i: stored.get(i) or Record(id=i) for i in aggregate_ids}

    async def save_many(self, records: Sequence[Record[S]]) -> list[Record[S]]:
        if len(records) == 1:
            return [await self.save(records[0])]
        saved = [msgspec.structs.replace(r, version=r.version + 1) for r in records]
        inserts = [to_document(s) for s in saved if s.version == 1]
        replaces = [(s.id, {"version": s.version - 1}, to_document(s)) for s in saved if s.version > 1]
        if not await self.keyed.write_if(inserts, replaces):
            raise ConcurrentWriteError(", ".join(r.id for r in records))
        return saved

    async def save(self, record: Record[S]) -> Record[S]:
        saved = msgspec.structs.replace(record, version=record.version + 1)
        document = to_document(saved)
        if record.version == 0:
            try:
                await self.collection.insert_one(document)
            except DuplicateKeyError as error:
                raise ConcurrentWriteError(record.id) from error
        else:
            if not await self.keyed.replace_if(record.id, {"version": record.version}, document):
                raise ConcurrentWriteError(record.id)
        return saved

    async def find(self, query: dict[str, Any]) -> Sequence[Record[S]]:
        return [from_document(document, self.state_type) async for document in self.collection.find(query)]

    async def stages(self) -> dict[str, int]:
        """How many aggregates are at each status (one aggregation, grouped by the server)."""
        pipeline = [{"$group": {"_id": "$state.status", "count": {"$sum": 1}}}]
        rows = await self.collection.aggregate(pipeline)
        return {str(row["_id"]): int(row["count"]) async for row in rows}
