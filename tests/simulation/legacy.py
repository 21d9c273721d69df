"""The outbox and idempotency of the commit before 3a34adb (400ff2d), to run the simulation against.

Then each save replaced the outbox with its own events, a redelivery republished only the events its
message had caused (if still in the outbox), and every applied id was kept. Patched in place while the
context lasts, so the same real handlers and consume protocol run on the old record semantics (events
known by `Event.identity`, as the handlers now pass them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from services.placement import handlers as placement_handlers
from shared import processing
from shared.aggregates import Outgoing, Position, Record
from shared.contracts.envelope import Event
from shared.processing import Decide, Publish, UnitOfWork


def _has_applied(self: Record[Any], event_id: str, position: Position | None = None) -> bool:
    return event_id in self.applied


def _applying(
    self: Record[Any],
    event_id: str,
    state: Any,
    outgoing: Iterable[Outgoing],
    *,
    position: Position | None = None,
    same_save: bool = False,
    subject: str = "",
) -> Record[Any]:
    caused = tuple(msgspec.structs.replace(o, cause=event_id) for o in outgoing)
    outbox = (*self.outbox, *caused) if same_save else caused
    return msgspec.structs.replace(self, state=state, applied=(*self.applied, event_id), outbox=outbox)


def _outbox_for(self: Record[Any], event_id: str) -> tuple[Outgoing, ...]:
    return tuple(o for o in self.outbox if o.cause == event_id)


async def _apply_to(
    store: Any,
    record: Record[Any],
    event: Event,
    decide: Decide[Any],
    publish: Publish,
    *,
    derived: bool = False,
) -> Record[Any]:
    event_id = event.identity
    if not record.has_applied(event_id):
        state, outgoing = decide(record.state)
        record = await store.save(record.applying(event_id, state, outgoing))
    await publish(_outbox_for(record, event_id))
    return record


async def _unit_apply(
    self: UnitOfWork,
    store: Any,
    aggregate_id: str,
    event: Event,
    decide: Decide[Any],
    publish: Publish,
    *,
    derived: bool = False,
) -> Record[Any]:
    event_id = event.identity
    key = (id(store), aggregate_id)
    record = await self.load(store, aggregate_id)
    if not record.has_applied(event_id):
        state, outgoing = decide(record.state)
        record = record.applying(event_id, state, outgoing, same_save=key in self.changed)
        self.records[key] = (store, record)
        self.changed.add(key)
    self.outgoing.append((publish, _outbox_for(record, event_id)))
    return record


PATCHES: list[tuple[Any, str, Any]] = [
    (Record, "has_applied", _has_applied),
    (Record, "applying", _applying),
    (processing, "apply_to", _apply_to),
    (placement_handlers, "apply_to", _apply_to),
    (UnitOfWork, "apply", _unit_apply),
]


@contextlib.contextmanager
def before_the_fix() -> Iterator[None]:
    """Run the simulation on the record semantics of 400ff2d."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in PATCHES]
    for owner, name, patch in PATCHES:
        setattr(owner, name, patch)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
