"""The benchmark's baseline: one hop of a raw relay on aiokafka and PyMongo async, no framework.

`python -m services.simulator.relay IN OUT DATABASE`: consume IN in batches, decode each message, write the
batch to the database in one bulk insert (a document by `_id` per message, as the services write a batch in
one bulk write), produce to OUT, commit per batch. An insert is the cheapest write on both servers (on
FerretDB an upsert costs 2-4 times more), and a redelivered message's insert is a duplicate key, ignored:
the fastest honest relay with the same I/O pattern, as a baseline should be.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo.errors import BulkWriteError

from shared.kafka import client_options
from shared.mongo import mongo_client, only_duplicates
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
    await consumer.start()
    await producer.start()
    print("relay ready", flush=True)

    while True:
        batch = await consumer.getmany(timeout_ms=200)
        records = [record for records in batch.values() for record in records]
        if not records:
            continue
        bodies = [msgspec.json.decode(record.value) for record in records]
        try:
            await collection.insert_many([{"_id": b["event_id"], "event": b} for b in bodies], ordered=False)
        except BulkWriteError as error:  # a redelivered message's document is there already: not an error
            if not only_duplicates(error):
                raise
        sent = [await producer.send(target, record.value, key=record.key) for record in records]
        await asyncio.gather(*sent)
        await consumer.commit()


if __name__ == "__main__":
    asyncio.run(relay(Settings.from_env(), sys.argv[1], sys.argv[2], sys.argv[3]))
