"""Decodes every topic of a namespace as it is written, so tests can wait for what they expect."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from aiokafka import ConsumerRecord

from shared.contracts.codec import ContractError, decode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.settings import Settings
from tests.kafka import TopicReader


class Observer:
    """Reads all topics in the background; `wait_for` returns the first event matching a predicate."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = TopicReader(settings, [settings.topic(t) for t in Topic])
        self.seen: list[tuple[str, ConsumerRecord[Any, Any]]] = []
        self.events: list[tuple[str, Event]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Observer:
        await self.reader.__aenter__()
        self.task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.task:
            self.task.cancel()
        await self.reader.__aexit__()

    async def _read(self) -> None:
        while True:
            batch = await self.reader.consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    topic = self.settings.contract_topic(record.topic)
                    self.seen.append((topic, record))
                    if topic != Topic.DEAD_LETTER:
                        with suppress(ContractError):  # bad input sent on purpose to an intake topic
                            self.events.append((topic, decode(topic, record.value)))

    def of(self, kind: type[Event], **fields: object) -> list[Event]:
        """Return the events seen of `kind` whose fields equal `fields`."""
        return [
            e
            for _, e in self.events
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())
        ]

    async def wait_for(self, kind: type[Event], seconds: float = 60.0, **fields: object) -> Event:
        """Return the first event of `kind` with `fields`; fail listing what was seen after `seconds`."""
        return (await self.wait_until(lambda: self.of(kind, **fields), seconds, f"{kind.__name__} {fields}"))[
            0
        ]

    async def wait_until(self, found: Callable[[], list[Event]], seconds: float, what: str) -> list[Event]:
        """Wait until `found()` is not empty."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not (result := found()):
            if asyncio.get_running_loop().time() > deadline:
                seen = [f"{t}: {e.event_type}" for t, e in self.events[-30:]]
                raise AssertionError(f"no {what} after {seconds}s; last events:\n" + "\n".join(seen))
            await asyncio.sleep(0.05)
        return result
