"""The application handlers on the in-memory store: claims, idempotency, the outbox."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn
from unittest import mock

import msgspec

from services.application.handlers import ApplicationHandlers
from services.application.main import wire
from services.application.store import Claim, InMemoryApplicationStore, InMemoryClaims
from shared import samples
from shared.aggregates import Outgoing
from shared.consuming import BatchProtocol
from shared.contracts.codec import decode, encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.contracts.types import Scheme
from shared.processing import UnitOfWork, current_unit
from shared.settings import Settings


class Record(msgspec.Struct, frozen=True):
    """A consumed record, as the consume protocol reads it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Sent:
    """A publish function that records what it sent; like an idempotent consumer, `items` counts each
    event id once (a redelivery republishes the same ids), `copies` every publication."""

    def __init__(self) -> None:
        self.items: list[Outgoing] = []
        self.copies = 0

    async def __call__(self, outgoing: Iterable[Outgoing]) -> None:
        seen = {item.event_id for item in self.items}
        for item in outgoing:
            self.copies += 1
            if item.event_id not in seen:
                self.items.append(item)
                seen.add(item.event_id)

    def types(self) -> list[str]:
        return [decode(item.topic, item.value).event_type for item in self.items]


def make() -> tuple[ApplicationHandlers, InMemoryApplicationStore, Sent]:
    store, sent = InMemoryApplicationStore(), Sent()
    return ApplicationHandlers(store, sent), store, sent


async def test_a_received_application_is_published_keyed_by_volunteer_and_no_copy_of_it_kept() -> None:
    handlers, store, sent = make()
    await handlers.handle(Topic.APPLICATION_INTAKE, samples.submitted())
    assert sent.types() == ["ApplicationReceived"]
    assert sent.items[0].key == "vol-1" and sent.items[0].topic == Topic.APPLICATION_EVENTS
    assert sent.items[0].cause == (await store.applications.load("app-1")).applied[-1]
    stored = msgspec.json.encode(store.applications.documents["app-1"])
    volunteer = samples.volunteer()
    assert not [
        v for v in (volunteer.given_name, volunteer.email, str(volunteer.birth_date)) if v.encode() in stored
    ]


async def test_a_redelivered_fact_changes_nothing_and_emits_nothing_new() -> None:
    handlers, store, sent = make()
    event = samples.submitted()
    await handlers.handle(Topic.APPLICATION_INTAKE, event)
    before = await store.applications.load("app-1")
    await handlers.handle(Topic.APPLICATION_INTAKE, event)
    assert await store.applications.load("app-1") == before
    assert sent.types() == ["ApplicationReceived"]
    assert sent.copies == 1  # published, then forgotten: known sent


async def test_a_second_open_application_for_the_same_scheme_is_rejected_but_another_scheme_is_not() -> None:
    handlers, _, sent = make()
    await handlers.handle(Topic.APPLICATION_INTAKE, samples.submitted("app-1"))
    await handlers.handle(Topic.APPLICATION_INTAKE, samples.submitted("app-2"))
    vsi = samples.with_wishes(samples.submitted("app-3"), scheme=Scheme.VSI)
    await handlers.handle(Topic.APPLICATION_INTAKE, vsi)
    assert sent.types() == ["ApplicationReceived", "ApplicationRejected", "ApplicationReceived"]


async def test_after_a_withdrawal_the_volunteer_may_apply_again() -> None:
    handlers, _, sent = make()
    first = samples.submitted("app-1")
    await handlers.handle(Topic.APPLICATION_INTAKE, first)
    await handlers.handle(Topic.APPLICATION_INTAKE, samples.withdrawal(first))
    await handlers.handle(Topic.APPLICATION_INTAKE, samples.submitted("app-2"))
    assert sent.types() == ["ApplicationReceived", "ApplicationWithdrawn", "ApplicationReceived"]


async def test_an_outbox_a_crash_left_unpublished_goes_out_with_the_same_ids_on_redelivery() -> None:
    store, sent = InMemoryApplicationStore(), Sent()

    async def crash(outgoing: Iterable[Outgoing]) -> None:
        raise ConnectionError("broker down")

    event = samples.submitted()
    with contextlib.suppress(ConnectionError):
        await ApplicationHandlers(store, crash).handle(Topic.APPLICATION_INTAKE, event)
    stored = (await store.applications.load("app-1")).outbox  # kept: not known published
    assert [item.personal for item in stored] == [True]
    await ApplicationHandlers(store, sent).handle(Topic.APPLICATION_INTAKE, event)
    assert sent.types() == ["ApplicationReceived"]
    assert [item.event_id for item in sent.items] == [item.event_id for item in stored]
    assert (await store.applications.load("app-1")).outbox == ()  # then forgotten, once sent


async def test_an_erasure_leaves_a_tombstone_releases_the_claim_and_tells_downstream() -> None:
    handlers, store, sent = make()
    submitted = samples.submitted()
    await handlers.handle(Topic.APPLICATION_INTAKE, submitted)
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, samples.erasure("vol-1"))
    record = await store.applications.load("app-1")
    assert record.erased and record.state is not None  # only what releases its claim: ids and the scheme
    assert set(msgspec.structs.asdict(record.state)) == {"status", "volunteer_id", "scheme"}
    assert [decode(o.topic, o.value).event_type for o in record.outbox] == ["ErasureCompleted"]
    assert "Camille" not in repr(record) and store.claims.holders == {}
    assert sent.types() == ["ApplicationReceived", "ErasureCompleted"]
    completed = decode(Topic.APPLICATION_EVENTS, sent.items[-1].value)
    assert sent.items[-1].key == "vol-1" and getattr(completed, "application_id", None) == "app-1"


async def test_a_redelivered_erasure_releases_a_claim_its_first_delivery_did_not_live_to_release() -> None:
    handlers, store, _ = make()
    await handlers.handle(Topic.APPLICATION_INTAKE, samples.submitted())
    request = samples.erasure("vol-1")
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, request)
    await store.claims.claim_many([("vol-1:service-civique", "app-1")])  # as if it crashed before the release
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, request)  # redelivered
    assert store.claims.holders == {}


async def test_an_erased_application_is_not_recreated_by_its_submission_redelivered_or_replayed() -> None:
    handlers, store, sent = make()
    submitted = samples.submitted()
    await handlers.handle(Topic.APPLICATION_INTAKE, submitted)
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, samples.erasure("vol-1"))
    erased = await store.applications.load("app-1")
    await handlers.handle(Topic.APPLICATION_INTAKE, submitted)  # redelivered
    replayed = samples.submitted(event_id="replayed-copy", occurred_at=submitted.occurred_at)
    await handlers.handle(Topic.APPLICATION_INTAKE, replayed)  # a copy with another id
    await handlers.handle(Topic.APPLICATION_INTAKE, samples.withdrawal(submitted))
    assert await store.applications.load("app-1") == erased
    assert sent.types() == ["ApplicationReceived", "ErasureCompleted"] and store.claims.holders == {}


async def test_a_submission_stated_before_the_erasure_but_arriving_after_it_is_erased_at_once() -> None:
    handlers, store, sent = make()
    late = samples.submitted("app-2")
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, samples.erasure("vol-1"))
    await handlers.handle(Topic.APPLICATION_INTAKE, late)
    record = await store.applications.load("app-2")
    assert record.erased and store.claims.holders == {}
    assert sent.types() == ["ApplicationReceived", "ErasureCompleted"]  # received, then erased
    assert "Camille" not in repr(record)


async def test_a_volunteer_who_applies_again_after_their_erasure_is_a_new_applicant() -> None:
    handlers, store, sent = make()
    erasure = samples.erasure("vol-1", occurred_at=samples.SUBMITTED_AT - dt.timedelta(seconds=1))
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, erasure)
    again = samples.submitted("app-3")  # stated after the request
    await handlers.handle(Topic.APPLICATION_INTAKE, again)
    record = await store.applications.load("app-3")
    assert not record.erased and record.state is not None
    assert sent.types() == ["ApplicationReceived"]


async def test_an_erasure_cut_short_by_a_crash_is_finished_by_its_redelivery() -> None:
    store, sent = InMemoryApplicationStore(), Sent()
    handlers = ApplicationHandlers(store, sent)
    for application_id, scheme in (("app-1", Scheme.SERVICE_CIVIQUE), ("app-2", Scheme.VSI)):
        await handlers.handle(
            Topic.APPLICATION_INTAKE, samples.with_wishes(samples.submitted(application_id), scheme=scheme)
        )
    erasure = samples.erasure("vol-1")

    async def crash(outgoing: Iterable[Outgoing]) -> None:
        raise ConnectionError("broker down")

    with contextlib.suppress(ConnectionError):
        await ApplicationHandlers(store, crash).handle(Topic.APPLICATION_INTAKE_AGENCY, erasure)
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, erasure)
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, erasure)  # and again: nothing new
    for application_id in ("app-1", "app-2"):
        assert (await store.applications.load(application_id)).erased
    assert sent.types().count("ErasureCompleted") == 2 and store.claims.holders == {}


async def test_an_erasure_touches_no_other_volunteer() -> None:
    handlers, store, _ = make()
    other = samples.submitted("app-9", subject_id="vol-9", volunteer_fields={"volunteer_id": "vol-9"})
    await handlers.handle(Topic.APPLICATION_INTAKE, samples.submitted())
    await handlers.handle(Topic.APPLICATION_INTAKE, other)
    await handlers.handle(Topic.APPLICATION_INTAKE_AGENCY, samples.erasure("vol-1"))
    kept = await store.applications.load("app-9")
    assert not kept.erased and kept.state is not None and "vol-9:service-civique" in store.claims.holders


class CountedClaims(InMemoryClaims):
    """Claims that note each bulk claim, and who holds what when asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[Claim]] = []

    async def claim_many(self, claims: Sequence[Claim]) -> dict[Claim, bool]:
        self.asked.append(sorted(claims))
        return await super().claim_many(claims)


async def in_one_unit(handlers: ApplicationHandlers, *events: Event) -> UnitOfWork:
    """Apply each event as a task of one unit, as the consume protocol does with a batch's keys."""
    unit = UnitOfWork()
    token = current_unit.set(unit)
    try:
        await unit.run(
            functools.partial(handlers.handle, Topic.APPLICATION_INTAKE, event) for event in events
        )
    finally:
        current_unit.reset(token)
    return unit


async def test_a_batchs_submissions_claim_in_one_query_and_the_first_of_two_for_one_scheme_wins() -> None:
    store, sent = InMemoryApplicationStore(), Sent()
    store.claims = claims = CountedClaims()
    handlers = ApplicationHandlers(store, sent)
    other = samples.submitted("app-3", volunteer=samples.volunteer("vol-2"))
    unit = await in_one_unit(handlers, samples.submitted("app-1"), samples.submitted("app-2"), other)
    await unit.commit()
    assert claims.asked == [
        [
            ("vol-1:service-civique", "app-1"),
            ("vol-1:service-civique", "app-2"),
            ("vol-2:service-civique", "app-3"),
        ]
    ]
    assert sorted(sent.types()) == ["ApplicationReceived", "ApplicationReceived", "ApplicationRejected"]
    assert claims.holders == {"vol-1:service-civique": "app-1", "vol-2:service-civique": "app-3"}


async def test_in_a_unit_a_withdrawal_releases_its_claim_only_once_the_application_is_saved() -> None:
    handlers, store, sent = make()
    first = samples.submitted("app-1")
    await handlers.handle(Topic.APPLICATION_INTAKE, first)
    unit = await in_one_unit(handlers, samples.withdrawal(first))
    assert store.claims.holders == {"vol-1:service-civique": "app-1"}  # not saved yet: still open, still held
    assert (await store.applications.load("app-1")).state.status == "received"  # type: ignore[union-attr]
    await unit.commit()
    assert store.claims.holders == {} and sent.types() == ["ApplicationReceived", "ApplicationWithdrawn"]


async def test_a_withdrawal_and_a_new_submission_of_one_volunteer_in_one_batch_both_hold() -> None:
    """The application's units hold one message per key: the submission is decided once the withdrawal is
    saved and its claim released, as one message at a time."""
    store, sent = InMemoryApplicationStore(), Sent()
    handlers = ApplicationHandlers(store, sent)
    first, second = samples.submitted("app-1"), samples.submitted("app-2")
    records = [
        Record(Topic.APPLICATION_INTAKE, 0, n, b"vol-1", encode(event))
        for n, event in enumerate((first, samples.withdrawal(first), second))
    ]

    async def set_aside(record: Any, error: BaseException) -> None:
        raise AssertionError(f"dead letter: {error!r}")

    def stop(reason: str) -> NoReturn:
        raise AssertionError(reason)

    wiring = wire(mock.MagicMock(), sent, Settings())
    protocol = BatchProtocol(Settings(), handlers.handle, set_aside, stop, wiring.exclusive, wiring.coalesce)
    await protocol.process(records)
    assert sent.types() == ["ApplicationReceived", "ApplicationWithdrawn", "ApplicationReceived"]
    assert store.claims.holders == {"vol-1:service-civique": "app-2"}
