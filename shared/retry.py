"""Retry a step in place on transient faults (broker or database unavailable), with bounded backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import errors as kafka_errors
from pymongo import errors as mongo_errors

log = logging.getLogger("envol.retry")
T = TypeVar("T")


class ConcurrentWriteError(RuntimeError):
    """Another writer changed the document first; reloading and retrying resolves it."""


class GaveUpError(RuntimeError):
    """A transient fault lasted longer than every retry: the process must stop, not skip."""


TRANSIENT: tuple[type[BaseException], ...] = (
    mongo_errors.ConnectionFailure,  # includes AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
    mongo_errors.WTimeoutError,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.NotEnoughReplicasError,
    kafka_errors.NotEnoughReplicasAfterAppendError,
    kafka_errors.OutOfOrderSequenceNumber,
    ConcurrentWriteError,
    asyncio.TimeoutError,
    ConnectionError,
)


async def retry_in_place(step: Callable[[], Awaitable[T]], *, attempts: int, base_seconds: float) -> T:
    """Run `step`, retrying transient faults with exponential backoff; raise GaveUpError when exhausted."""
    for attempt in range(1, attempts + 1):
        try:
            return await step()
        except TRANSIENT as error:
            if attempt == attempts:
                raise GaveUpError(f"{type(error).__name__} after {attempts} attempts") from error
            delay = min(base_seconds * 2 ** (attempt - 1), 10.0)
            log.warning("transient %s, retry %d/%d in %.1fs", type(error).__name__, attempt, attempts, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
