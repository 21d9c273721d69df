"""How far each service's consumer group is behind: zero lag means every message was applied and committed."""

from __future__ import annotations

import asyncio
import time

import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from services.simulator.processes import SERVICES
from shared.kafka import client_options
from shared.settings import Settings


class Behind(msgspec.Struct, frozen=True):
    """One partition a service's group consumes: its committed offset, its end, and the difference."""

    service: str
    topic: str
    partition: int
    committed: int  # -1 when the group has committed nothing there yet
    end: int

    @property
    def lag(self) -> int:
        return self.end - max(0, self.committed)


async def lag_by_partition(settings: Settings) -> list[Behind]:
    """Every partition each service's group has committed on, with how far behind its end it is."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    consumer = AIOKafkaConsumer(**client_options(settings))
    await admin.start()
    await consumer.start()
    try:
        rows = []
        for service in SERVICES:
            committed = await admin.list_consumer_group_offsets(settings.group(service))
            partitions = sorted(committed, key=lambda tp: (tp.topic, tp.partition))
            ends = await consumer.end_offsets(partitions) if partitions else {}
            rows += [
                Behind(service, tp.topic, tp.partition, committed[tp].offset, ends[tp]) for tp in partitions
            ]
        return rows
    finally:
        await consumer.stop()
        await admin.close()


async def lag(settings: Settings) -> dict[str, int]:
    """Return, per service, the messages written to its topics and not yet committed by its group."""
    behind = dict.fromkeys(SERVICES, 0)
    for row in await lag_by_partition(settings):
        behind[row.service] += row.lag
    return behind


async def settle(settings: Settings, seconds: float = 300.0) -> dict[str, int]:
    """Wait until every service's group has caught up twice in a row (or `seconds` pass); return the lag."""
    deadline, calm = time.monotonic() + seconds, 0
    behind = await lag(settings)
    while time.monotonic() < deadline and calm < 2:
        await asyncio.sleep(1.0)
        behind = await lag(settings)
        calm = calm + 1 if not any(behind.values()) else 0
    return behind
