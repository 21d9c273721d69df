"""Retry a step in place on transient faults (broker or database unavailable), with bounded backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import errors as kafka_errors
from pymongo import errors as mongo_errors

from shared import metrics
from shared.renewal import PRODUCER_REFUSED

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
    *PRODUCER_REFUSED,  # transient once `shared.renewal` has replaced the producer
    ConcurrentWriteError,
    asyncio.TimeoutError,
    ConnectionError,
)


# Codes that mean "try again": internal server error (FerretDB reports its SQLite failures while it shuts
# down so), write conflict, interrupted, primary stepped down or not writable.
TRANSIENT_CODES = frozenset({1, 6, 7, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})


def _transient_code(code: object, message: str) -> bool:
    busy = "database is locked" in message or "SQLITE_BUSY" in message  # FerretDB on SQLite
    return busy or code in TRANSIENT_CODES or code == WRITE_CONCERN_TIMEOUT


WRITE_CONCERN_TIMEOUT = 64


def is_transient(error: BaseException) -> bool:
    """Tell whether a fault goes away by itself: connection lost, leader moved, database busy or locked."""
    if isinstance(error, TRANSIENT):
        return True
    if isinstance(error, mongo_errors.BulkWriteError):  # transient if each write it could not make is
        failed = [*error.details.get("writeErrors", ()), *error.details.get("writeConcernErrors", ())]
        return bool(failed) and all(_transient_code(e.get("code"), str(e.get("errmsg", ""))) for e in failed)
    if isinstance(error, mongo_errors.OperationFailure):
        retryable = error.has_error_label("RetryableWriteError")
        return retryable or _transient_code(error.code, str(error))
    return isinstance(error, kafka_errors.KafkaError) and bool(getattr(error, "retriable", False))


async def retry_in_place(step: Callable[[], Awaitable[T]], *, attempts: int, base_seconds: float) -> T:
    """Run `step`, retrying transient faults with exponential backoff; raise GaveUpError when exhausted."""
    for attempt in range(1, attempts + 1):
        try:
            return await step()
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == attempts:
                raise GaveUpError(f"{type(error).__name__} after {attempts} attempts") from error
            delay = min(base_seconds * 2 ** (attempt - 1), 10.0)
            metrics.RETRIES.labels(type(error).__name__).inc()
            log.warning("transient %s, retry %d/%d in %.1fs", type(error).__name__, attempt, attempts, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
