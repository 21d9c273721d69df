"""The benchmark's baseline: one hop of a raw relay on aiokafka and PyMongo async, no framework.

`python -m services.simulator.relay IN OUT DATABASE`: consume IN in batches, decode each message, make one
equivalent database write (insert by `_id`, 8 at a time like the services), produce to OUT, commit per batch.
An insert is the cheapest write on both servers (on FerretDB an upsert costs 2-4 times more), and a
redelivered message's insert is a duplicate key, ignored: the fastest honest relay, as a baseline should be.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo.errors import DuplicateKeyError

from shared.kafka import client_options
from shared.mongo import mongo_client
from shared.settings import Settings


async def relay(settings: Settings, source: str, target: str, database: str) -> None:
    """Relay until killed."""
    consumer = AIOKafkaConsumer(
        source, **client_options(settings), group_id=f"{source}-relay",
        enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=settings.batch_size,
    )  # fmt: skip
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True, linger_ms=5)
    client = mongo_client(settings, "envol-relay")
    collection = client[database]["relayed"]
    limit = asyncio.Semaphore(settings.concurrency)
    await consumer.start()
    await producer.start()
    print("relay ready", flush=True)

    async def write(key: str, body: dict[str, object]) -> None:
        async with limit:
            with contextlib.suppress(DuplicateKeyError):
                await collection.insert_one({"_id": key, "event": body})

    while True:
        batch = await consumer.getmany(timeout_ms=200)
        records = [record for records in batch.values() for record in records]
        if not records:
            continue
        bodies = [msgspec.json.decode(record.value) for record in records]
        await asyncio.gather(*(write(body["event_id"], body) for body in bodies))
        sent = [await producer.send(target, record.value, key=record.key) for record in records]
        await asyncio.gather(*sent)
        await consumer.commit()


if __name__ == "__main__":
    asyncio.run(relay(Settings.from_env(), sys.argv[1], sys.argv[2], sys.argv[3]))
