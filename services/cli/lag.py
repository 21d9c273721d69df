"""How far each service's consumer group is behind: zero lag means every message was applied and committed."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from services.simulator.processes import SERVICES
from shared.kafka import client_options
from shared.settings import Settings


async def lag(settings: Settings) -> dict[str, int]:
    """Return, per service, the messages written to its topics and not yet committed by its group."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    consumer = AIOKafkaConsumer(**client_options(settings))
    await admin.start()
    await consumer.start()
    try:
        behind = {}
        for service in SERVICES:
            committed = await admin.list_consumer_group_offsets(settings.group(service))
            partitions = list(committed)
            ends = await consumer.end_offsets(partitions) if partitions else {}
            behind[service] = sum(ends[tp] - max(0, committed[tp].offset) for tp in partitions)
        return behind
    finally:
        await consumer.stop()
        await admin.close()


async def settle(settings: Settings, seconds: float = 300.0) -> dict[str, int]:
    """Wait until every service's group has caught up twice in a row (or `seconds` pass); return the lag."""
    deadline, calm = time.monotonic() + seconds, 0
    behind = await lag(settings)
    while time.monotonic() < deadline and calm < 2:
        await asyncio.sleep(1.0)
        behind = await lag(settings)
        calm = calm + 1 if not any(behind.values()) else 0
    return behind
