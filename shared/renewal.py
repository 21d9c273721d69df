"""An idempotent producer the broker stops accepting is replaced by a new one, not retried forever.

The broker refuses a producer's batch with OutOfOrderSequenceNumber when the sequence it expects for the
producer id is not the one sent: after a restart that lost the last batches it had acknowledged to no one,
or a leader change. The Java client then bumps its epoch and resets its sequences; aiokafka fails the
batch and keeps the producer id and the sequences that caused the refusal, so every later batch to that
partition is refused too, for good (aio-libs/aiokafka#1017). Retrying in place cannot cure that: the
producer must be replaced, and a new one gets a new producer id from the broker.

What was in flight is sent again by the caller's retry. A copy that had reached the log before the refusal
is harmless: every event has one event id, and the consumers apply an event id once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors
from aiokafka.structs import RecordMetadata

log = logging.getLogger("envol.renewal")
T = TypeVar("T")

# The broker no longer accepts this producer's sequence, id or epoch; a new producer cures it.
PRODUCER_REFUSED: tuple[type[BaseException], ...] = (
    kafka_errors.OutOfOrderSequenceNumber,
    kafka_errors.UnknownProducerId,
    kafka_errors.InvalidProducerEpoch,
    kafka_errors.ProducerFenced,  # what aiokafka raises for InvalidProducerEpoch
)


class Renewal:
    """Replace a producer once per refusal, however many concurrent sends saw it.

    `replace` starts a new producer, puts it in place of the refused one, then stops the refused one: no
    send in between finds no producer."""

    def __init__(self, replace: Callable[[], Awaitable[None]]) -> None:
        self._replace = replace
        self._lock = asyncio.Lock()
        self.generation = 0  # how many times the producer has been replaced

    async def guarded(self, send: Callable[[], Awaitable[T]]) -> T:
        """Run `send`; when the broker refuses the producer, replace it and raise the refusal, which
        `shared.retry` treats as transient: the retry sends again on the new producer."""
        generation = self.generation
        return await self.watched(send(), generation)

    async def watched(self, acknowledged: Awaitable[T], generation: int) -> T:
        """Await an acknowledgement of a send made on the producer of `generation`; renew on refusal."""
        try:
            return await acknowledged
        except PRODUCER_REFUSED as refusal:
            await self._renew(generation, refusal)
            raise

    async def _renew(self, refused: int, refusal: BaseException) -> None:
        async with self._lock:
            if self.generation != refused:
                return  # a concurrent send saw the same refusal and replaced the producer already
            await self._replace()
            self.generation += 1
            log.warning(
                "producer replaced after %s (replacement %d)", type(refusal).__name__, self.generation
            )


class RenewingProducer:
    """A plain aiokafka producer that replaces itself when the broker refuses it (the operators' tools,
    the simulator and the tests' senders)."""

    def __init__(self, **options: object) -> None:
        self._options = options
        self.producer = AIOKafkaProducer(**options)
        self.renewal = Renewal(self._replace)

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def send(self, topic: str, value: bytes | None, **kwargs: object) -> Awaitable[RecordMetadata]:
        """Queue a record; return what to await for its acknowledgement (renewing on refusal)."""
        generation = self.renewal.generation
        queued = await self.producer.send(topic, value, **kwargs)
        return self.renewal.watched(queued, generation)

    async def send_and_wait(self, topic: str, value: bytes | None, **kwargs: object) -> RecordMetadata:
        return await (await self.send(topic, value, **kwargs))

    async def _replace(self) -> None:
        refused, fresh = self.producer, AIOKafkaProducer(**self._options)
        await fresh.start()
        self.producer = fresh
        await refused.stop()
