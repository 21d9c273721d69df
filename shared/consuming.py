"""The consume protocol of one batch: every offset ends applied or dead-lettered, or the process stops.

Free of FastStream and aiokafka, so the deterministic simulation drives the same code as the services:
the Kafka adapter (`shared.messaging`) only feeds it records and commits after it returns.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, Protocol

import msgspec

from shared import logs, metrics, tracing
from shared.aggregates import Position
from shared.contracts.codec import ContractError, decode_sent
from shared.contracts.envelope import Event
from shared.processing import UnitOfWork, current_position, current_unit
from shared.retry import GaveUpError, is_transient, retry_in_place
from shared.settings import Settings

log = logging.getLogger("envol.consuming")

Handle = Callable[[str, Event], Awaitable[None]]
Exclusive = Callable[[str, Event], bool]
Stop = Callable[[str], NoReturn]  # end the process: it restarts from the last commit


class Coalesce(enum.Enum):
    """How a service applies a batch's messages (between its exclusive ones)."""

    NO = "no"  # each key's messages in order, one at a time
    BATCH = "batch"  # as one unit of work: one load and one write per store and round (`UnitOfWork`)
    KEY_ONCE = "key-once"  # as units holding one message per key: a key's next message starts the next
    # unit, as what one message decides may depend on what its key's previous message released after its
    # save (a claim)


class Consumed(Protocol):
    """What the protocol reads of a consumed record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


SetAside = Callable[[Consumed, BaseException], Awaitable[None]]


class Decoded(msgspec.Struct, frozen=True):
    """A record, its contract topic, and its event or why it is not one."""

    record: Any
    topic: str
    event: Event | ContractError

    @property
    def position(self) -> Position:
        """Where it came from: its partition and key (one key's messages are applied in order, different
        keys of a partition concurrently, and hostile input may name one aggregate under several keys)."""
        key = hashlib.sha256(self.record.key or b"").hexdigest()[:16]
        return Position(f"{self.topic}:{self.record.partition}:{key}", self.record.offset)


def decoded(settings: Settings, record: Consumed) -> Decoded:
    """Decode a record into its topic's event, bound to its sender; every failure becomes a ContractError,
    never an escape."""
    topic = settings.contract_topic(record.topic)
    try:
        return Decoded(record, topic, decode_sent(topic, record.key, record.value))
    except ContractError as error:
        return Decoded(record, topic, error)


class BatchProtocol:
    """Apply a batch: keys in parallel, each key in order, exclusive messages alone; poison set aside.

    `process` returns only when every record of the batch is applied or dead-lettered, so the caller may
    commit. A transient fault is retried in place; one that outlasts the retries, or any error the protocol
    cannot classify (a dead letter that cannot be published even as a stub, a bug), calls `stop`: the
    process ends and the batch is redelivered from the last commit. Nothing is ever skipped.
    """

    def __init__(
        self,
        settings: Settings,
        handle: Handle,
        set_aside: SetAside,
        stop: Stop,
        exclusive: Exclusive = lambda topic, event: False,
        coalesce: Coalesce = Coalesce.NO,
    ) -> None:
        self.settings = settings
        self.handle = handle
        self.dead_letter = set_aside
        self.stop = stop
        self.exclusive = exclusive
        self.coalesce = coalesce
        self.limit = asyncio.Semaphore(settings.concurrency)
        self.aside: set[int] = set()  # the items of the batch under way set aside (by id)

    async def process(self, records: Sequence[Consumed]) -> None:
        """Apply every record or set it aside, else stop the process: never return with one skipped."""
        items = [decoded(self.settings, r) for r in records]
        self.aside = set()
        try:
            for segment in segments(items, self.exclusive):
                if self.coalesce is not Coalesce.NO and not self._alone(segment):
                    for unit in units(segment, self.coalesce):
                        await self._retried(unit[0], lambda: self._as_one_unit(unit))  # noqa: B023
                else:
                    await asyncio.gather(*(self._in_order(items) for items in by_key(segment)))
        except Exception as error:  # a bug or an unclassified fault: restart from the last commit
            log.critical("batch of %d not applied (%s); stopping", len(records), type(error).__name__)
            self.stop(f"unhandled {type(error).__name__}")
        for item in items:
            if id(item) not in self.aside and isinstance(item.event, Event):
                metrics.APPLIED.labels(item.event.event_type).inc()

    def _alone(self, segment: list[Decoded]) -> bool:
        """An exclusive message's segment: handled on its own, one message at a time, outside any unit."""
        item = segment[0]
        return isinstance(item.event, Event) and self.exclusive(item.topic, item.event)

    async def _in_order(self, items: list[Decoded]) -> None:
        async with self.limit:
            await self._one_at_a_time(items)

    async def _step(self, item: Decoded) -> None:
        if isinstance(item.event, ContractError):
            await self._set_aside(item, item.event)
            return
        token = current_position.set(item.position)
        event, record = item.event, item.record
        try:
            with (
                tracing.consuming(item.topic, event.subject_id, event.event_type, record),
                logs.handling(item.topic, record.partition, record.offset, event.event_type),
            ):
                await self.handle(item.topic, event)
        except Exception as error:
            if is_transient(error):
                raise  # retried in place
            log.debug("handler failure", exc_info=True)  # cannot be applied: set aside, never skipped
            await self._set_aside(item, error)
        finally:
            current_position.reset(token)

    async def _set_aside(self, item: Decoded, error: BaseException) -> None:
        self.aside.add(id(item))
        unit = current_unit.get()
        if unit is None:
            await self.dead_letter(item.record, error)
        else:
            unit.defer(lambda: self.dead_letter(item.record, error))

    async def _as_one_unit(self, items: list[Decoded]) -> None:
        metrics.UNIT_MESSAGES.observe(len(items))
        unit = UnitOfWork()
        token = current_unit.set(unit)
        try:
            await unit.run(functools.partial(self._steps, key_items) for key_items in by_key(items))
        finally:
            current_unit.reset(token)
        try:
            await unit.commit()
        except Exception as error:
            if is_transient(error):
                raise
            failure = type(error).__name__
            log.warning("a unit of %d messages cannot be saved (%s); one at a time", len(items), failure)
            await self._one_at_a_time(items)  # the message that cannot be saved is then dead-lettered alone

    async def _steps(self, items: list[Decoded]) -> None:
        for item in items:
            await self._step(item)

    async def _one_at_a_time(self, items: list[Decoded]) -> None:
        for item in items:
            await self._retried(item, lambda: self._step(item))  # noqa: B023 - awaited here

    async def _retried(self, item: Decoded, attempt: Callable[[], Awaitable[None]]) -> None:
        settings = self.settings
        try:
            await retry_in_place(
                attempt, attempts=settings.retry_attempts, base_seconds=settings.retry_base_seconds
            )
        except GaveUpError as error:
            record = item.record
            log.critical("giving up on %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)
            self.stop(str(error))


def segments(items: list[Decoded], exclusive: Exclusive) -> list[list[Decoded]]:
    """Split a batch so that each exclusive message forms a segment of its own, in order."""
    found: list[list[Decoded]] = [[]]
    for item in items:
        if not isinstance(item.event, ContractError) and exclusive(item.topic, item.event):
            found.extend([[item], []])
        else:
            found[-1].append(item)
    return [segment for segment in found if segment]


def units(items: list[Decoded], coalesce: Coalesce) -> list[list[Decoded]]:
    """Split a segment into its units of work, in order: one, or (KEY_ONCE) as many as it takes for each
    to hold one message per key."""
    if coalesce is not Coalesce.KEY_ONCE:
        return [items]
    found: list[list[Decoded]] = [[]]
    keys: set[bytes | None] = set()
    for item in items:
        if item.record.key in keys:
            found.append([])
            keys = set()
        found[-1].append(item)
        keys.add(item.record.key)
    return found


def by_key(items: list[Decoded]) -> list[list[Decoded]]:
    """Group messages by Kafka key, keeping each key's order."""
    groups: dict[bytes | None, list[Decoded]] = {}
    for item in items:
        groups.setdefault(item.record.key, []).append(item)
    return list(groups.values())
