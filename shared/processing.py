"""Apply one event to one aggregate, effectively once, and publish what it produced."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from shared.aggregates import Aggregates, Outgoing, Position, Record
from shared.contracts.envelope import Event
from shared.contracts.topics import WRITER_OF_EVENTS
from shared.retry import is_transient

log = logging.getLogger("envol.processing")
S = TypeVar("S")
Publish = Callable[[Iterable[Outgoing]], Awaitable[None]]
Many = Callable[[Sequence[Any]], Awaitable[Mapping[Any, Any]]]  # answers for many keys in one query
Decide = Callable[[S | None], tuple[S | None, Iterable[Outgoing]]]


SERVICES = frozenset(WRITER_OF_EVENTS.values())


class ForeignSubjectError(ValueError):
    """An outside fact names another volunteer than the one its aggregate is about."""


def subject_after(record: Record[Any], event: Event) -> str:
    """The subject of `record` once `event`, a fact about it, is applied.

    The first event fixes it, and an Envol service's event (trusted: only it writes its topic) always
    does; an outside fact naming another subject raises ForeignSubjectError. So every event applied to
    one aggregate comes under one Kafka key, in order, and what it publishes too.
    """
    if not record.subject or event.producer in SERVICES:
        return event.subject_id
    if event.subject_id != record.subject:
        raise ForeignSubjectError("refused: subject_id is not the volunteer this application is about")
    return record.subject


async def apply_once(
    store: Aggregates[S],
    aggregate_id: str,
    event: Event,
    decide: Decide[S],
    publish: Publish,
    *,
    derived: bool = False,
) -> Record[S]:
    """Apply `decide` to the aggregate unless `event` was applied already; then publish its outbox.

    A redelivered event changes nothing and emits nothing new, but publishes again what its first
    delivery stored, in case the crash came before the broker had it: the same event ids, absorbed
    downstream. The caller commits the message's offset only after this returns. Within a `UnitOfWork`
    the saving and publishing wait for the unit's commit. `derived`: see `apply_to`.
    """
    unit = current_unit.get()
    if unit is not None:
        return await unit.apply(store, aggregate_id, event, decide, publish, derived=derived)
    return await apply_to(store, await store.load(aggregate_id), event, decide, publish, derived=derived)


def has_applied(record: Record[Any], event: Event, *, derived: bool = False) -> bool:
    """Tell whether `event` was applied to `record` already: the message being handled, or a fact the
    handler `derived` from it (recognised by its own id alone, as it shares the message's offset)."""
    return record.has_applied(event.identity, None if derived else current_position.get())


def redelivered(record: Record[Any]) -> bool:
    """Whether the message being handled is one `record` saw already at its own offset (a redelivery,
    after a crash), rather than at none (a first delivery) or at an earlier one (this a copy)."""
    position = current_position.get()
    return position is None or record.mark_of(position.source) >= position.offset


def republished(record: Record[Any]) -> tuple[Outgoing, ...]:
    """What the message being handled, found applied, publishes again.

    A redelivery (its offset again, after a crash) publishes the whole outbox: what its first delivery
    may not have, and what saves by other partitions' messages since then may not have either.
    A copy of an event republished at a new offset publishes nothing: its original, earlier in the same
    partition, was processed to the end first. (Republishing there too makes two services that consume
    each other's events send copies back and forth forever, each copy republishing the other's outbox.)
    """
    return record.outbox if redelivered(record) else ()


async def gathered(many: Many, key: Hashable) -> Any:
    """`many([key])[key]`; within a `UnitOfWork`, asked in one query with its other tasks' questions."""
    unit = current_unit.get()
    if unit is not None:
        return await unit.gathered(many, key)
    return (await many([key]))[key]


async def after_save(step: Callable[[], Awaitable[None]]) -> None:
    """Run `step` once what the message being handled applied is saved and published: now, or within a
    `UnitOfWork` after its commit."""
    unit = current_unit.get()
    if unit is not None:
        unit.after_save(step)
    else:
        await step()


async def load(store: Aggregates[S], aggregate_id: str) -> Record[S]:
    """The aggregate as it stands: as applied so far within the current `UnitOfWork`, else as stored."""
    unit = current_unit.get()
    if unit is not None:
        return await unit.load(store, aggregate_id)
    return await store.load(aggregate_id)


async def apply_to(
    store: Aggregates[S],
    record: Record[S],
    event: Event,
    decide: Decide[S],
    publish: Publish,
    *,
    derived: bool = False,
) -> Record[S]:
    """`apply_once` on a record the caller has just loaded.

    `derived`: a fact the handler made while handling the message (a seat it reserved), applied as a
    further step of that message: recognised by its own id, and about the aggregate's subject as it stands.
    The message's redelivery comes here again and, finding the fact applied, publishes what it produced.
    An erased record (a tombstone) takes no event: it is left as it is, as if the event were applied.
    """
    if record.erased or has_applied(record, event, derived=derived):
        again = republished(record)
        await publish(again)
        return await forget_published(store, record) if again else record  # forgotten once sent
    subject = record.subject if derived else subject_after(record, event)
    state, outgoing = decide(record.state)
    position = current_position.get()
    record = await store.save(
        record.applying(event.identity, state, outgoing, position=position, subject=subject)
    )
    await publish(record.outbox)  # what is not known published yet, then this event's own
    return await forget_published(store, record)


async def forget_published(store: Aggregates[S], record: Record[S]) -> Record[S]:
    """Once a record's outbox is published, save it without what it need not keep (`Record.forgetting`):
    the events holding personal data, and a tombstone's entries from before its erasure."""
    forgotten = record.forgetting()
    return record if forgotten is record else await store.save(forgotten)


class UnitOfWork:
    """Messages of a batch applied in memory, each aggregate loaded and saved once, then published.

    The same guarantees as one message at a time, with one load and one write per store and round instead
    of one per message: every applied event id and every outgoing event (naming its cause) is in the one
    saved document, and nothing is published before it is saved. The keys of a batch run as concurrent
    tasks (`run`); what they ask of the database (`gathered`: loads, claims) is gathered until every task
    waits for an answer, then asked in one query per kind, and `commit` saves every changed aggregate in
    one bulk write per store. A failure before `commit` leaves nothing behind but the claims it made (unique
    keys held by the aggregates' ids: asked again, they are granted again), and one during it leaves each
    document saved whole or not at all, so the whole unit can be applied again from the stored state. Only
    for handlers whose every effect goes through `apply_once`, or is such a claim made before the save, or
    waits for the save (`after_save`).
    """

    def __init__(self) -> None:
        self.records: dict[tuple[int, str], tuple[Aggregates[Any], Record[Any]]] = {}  # as applied so far
        self.changed: set[tuple[int, str]] = set()  # the records this unit applied an event to
        self.republishing: set[tuple[int, str]] = set()  # the records whose outbox a redelivery publishes
        self.outgoing: list[tuple[Publish, tuple[Outgoing, ...]]] = []
        self.afterwards: list[tuple[contextvars.Context, Callable[[], Awaitable[None]]]] = []
        self.deferred: list[Callable[[], Awaitable[None]]] = []
        self.running = 0  # the unit's tasks under way (`run`, the after-save steps); with none, asked at once
        self.waiting = 0  # how many of them wait for an answer
        self.wanted: dict[tuple[int, str, Hashable], tuple[Many, asyncio.Future[Any]]] = {}

    async def run(self, work: Iterable[Callable[[], Awaitable[None]]]) -> None:
        """Run each of `work` as a concurrent task of this unit (made inside it: a task cancelled before it
        starts leaves no coroutine unawaited); raise the first failure once every task has ended."""
        await self._all([asyncio.ensure_future(self._step(w)) for w in work])

    async def _all(self, tasks: list[asyncio.Future[None]]) -> None:
        """Run the tasks to their end; raise the first failure, once each other one is logged (a unit
        fails as a whole, and is retried or dead-lettered by the first; none goes unsaid)."""
        self.running += len(tasks)  # all counted before any runs: none asks before the others wait
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        for other in failures[1:]:
            log.error("another task of the unit failed too: %r", other, exc_info=other)
        if failures:
            raise failures[0]

    async def _step(self, step: Callable[[], Awaitable[None]]) -> None:
        """An after-save step, made inside its task (one cancelled before it starts leaves none unawaited)."""
        await self._task(step())

    async def _task(self, work: Awaitable[None]) -> None:
        try:
            await work
        finally:
            self.running -= 1
            if self.wanted and self.waiting >= self.running:
                await self._ask()  # the others all wait for their answers

    async def apply(
        self,
        store: Aggregates[S],
        aggregate_id: str,
        event: Event,
        decide: Decide[S],
        publish: Publish,
        *,
        derived: bool = False,
    ) -> Record[S]:
        key = (id(store), aggregate_id)
        record = await self.load(store, aggregate_id)
        if record.erased or has_applied(record, event, derived=derived):
            again = republished(record)
            if again:
                self.republishing.add(key)
            self.outgoing.append((publish, again))
            return record
        subject = record.subject if derived else subject_after(record, event)
        state, outgoing = decide(record.state)
        position = current_position.get()
        # what a redelivery in this unit publishes again is not known published before the commit
        same_save = key in self.changed or key in self.republishing
        record = record.applying(
            event.identity, state, outgoing, position=position, same_save=same_save, subject=subject
        )
        self.records[key] = (store, record)
        self.changed.add(key)
        self.outgoing.append((publish, record.outbox))
        return record

    async def load(self, store: Aggregates[S], aggregate_id: str) -> Record[S]:
        """The aggregate as this unit has applied it so far (loaded once, with the other tasks' loads)."""
        key = (id(store), aggregate_id)
        if key not in self.records:
            loaded = await self.gathered(store.load_many, aggregate_id)
            self.records.setdefault(key, (store, loaded))  # another task may have loaded and applied it
        return self.records[key][1]

    async def gathered(self, many: Many, key: Hashable) -> Any:
        """`many`'s answer for `key`, asked in one query with what the unit's other tasks ask `many` for,
        once every task waits for an answer."""
        asked = (id(getattr(many, "__self__", many)), getattr(many, "__name__", ""), key)
        if asked not in self.wanted:
            self.wanted[asked] = (many, asyncio.get_running_loop().create_future())
        answer = self.wanted[asked][1]
        self.waiting += 1
        try:
            if self.running > 1:
                await asyncio.sleep(0)  # the tasks the last answers woke run first: they may ask too
            if not answer.done() and self.waiting >= self.running:
                await self._ask()
            return await answer
        finally:
            self.waiting -= 1

    async def _ask(self) -> None:
        """Ask what the tasks wait for, one query per kind; each waiting task gets its answer or the
        failure. A query of many keys that fails for good is asked again key by key, so the one key it
        cannot answer (a document that no longer decodes) fails alone."""
        wanted, self.wanted = self.wanted, {}
        kinds: dict[tuple[int, str], tuple[Many, dict[Hashable, asyncio.Future[Any]]]] = {}
        for (owner, name, key), (many, future) in wanted.items():
            kinds.setdefault((owner, name), (many, {}))[1][key] = future
        try:
            for many, futures in kinds.values():
                try:
                    found = await many(list(futures))
                except Exception as error:
                    if len(futures) > 1 and not is_transient(error):
                        await self._ask_each(many, futures)
                    else:
                        _fail(futures.values(), error)
                    continue
                for key, future in futures.items():
                    if not future.done():
                        future.set_result(found[key])
        except asyncio.CancelledError:
            for _, future in wanted.values():
                future.cancel()
            raise

    @staticmethod
    async def _ask_each(many: Many, futures: dict[Hashable, asyncio.Future[Any]]) -> None:
        for key, future in futures.items():
            try:
                answer = (await many([key]))[key]
            except Exception as error:
                _fail([future], error)
            else:
                if not future.done():
                    future.set_result(answer)

    def after_save(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` once the unit is saved and published, in the context it was given in (the message's
        position, the unit), beside the other steps: what they ask of the database is gathered too."""
        self.afterwards.append((contextvars.copy_context(), step))

    def defer(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` (a dead letter) at commit, after the saves, so that a retried unit sends it once."""
        self.deferred.append(action)

    async def commit(self) -> None:
        """Save every aggregate the unit changed, then publish the events and run the deferred actions."""
        await self._save(self.changed)  # ConcurrentWriteError if another writer came first: retry the unit
        batches: dict[int, tuple[Publish, list[Outgoing]]] = {}
        seen: set[tuple[str, str]] = set()  # an event may go to several topics (a partner's, the shared one)
        for publish, outgoing in self.outgoing:
            fresh = [o for o in outgoing if (o.topic, o.event_id) not in seen]
            seen.update((o.topic, o.event_id) for o in fresh)
            batches.setdefault(id(publish), (publish, []))[1].extend(fresh)
        for publish, events in batches.values():
            if events:
                await publish(events)
        forgetting = set()
        for key in self.changed | self.republishing:
            store, record = self.records[key]
            forgotten = record.forgetting()  # once published, what it need not keep
            if forgotten is not record:
                self.records[key] = (store, forgotten)
                forgetting.add(key)
        await self._save(forgetting)
        steps = self.afterwards
        self.afterwards = []
        await self._all([asyncio.create_task(self._step(step), context=c) for c, step in steps])
        for action in self.deferred:
            await action()

    async def _save(self, keys: Iterable[tuple[int, str]]) -> None:
        """Save these records, in one bulk write per store."""
        stores: dict[int, tuple[Aggregates[Any], list[Record[Any]]]] = {}
        first_loaded = {store_id: n for n, store_id in enumerate(dict.fromkeys(k[0] for k in self.records))}
        for key in sorted(keys, key=lambda k: (first_loaded[k[0]], k[1])):  # the same order on every run
            store, record = self.records[key]
            stores.setdefault(key[0], (store, []))[1].append(record)
        for store_id, (store, records) in stores.items():
            for saved in await store.save_many(records):
                self.records[(store_id, saved.id)] = (store, saved)


def _fail(futures: Iterable[asyncio.Future[Any]], error: Exception) -> None:
    """Give `error` to every task waiting for these answers."""
    for future in futures:
        if not future.done():
            future.set_exception(error)


current_unit: ContextVar[UnitOfWork | None] = ContextVar("current_unit", default=None)


current_position: ContextVar[Position | None] = ContextVar("current_position", default=None)
"""Where the message being handled came from; the consume loop sets it around each handler call."""
