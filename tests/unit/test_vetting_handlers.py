"""The vetting handlers on the in-memory store: both topics in any order, idempotency, the outbox."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from services.vetting.domain import Status
from services.vetting.handlers import VettingHandlers
from services.vetting.store import InMemoryVettingStore
from shared import samples
from shared.aggregates import Outgoing
from shared.contracts.application import ApplicationRejected
from shared.contracts.topics import Topic
from shared.contracts.vetting import Check
from tests.unit.test_application_handlers import Sent
from tests.unit.test_vetting_domain import received, withdrawn


def make() -> tuple[VettingHandlers, InMemoryVettingStore, Sent]:
    store, sent = InMemoryVettingStore(), Sent()
    return VettingHandlers(store, sent), store, sent


async def test_a_cleared_case_is_published_on_vetting_events_keyed_by_volunteer() -> None:
    handlers, store, sent = make()
    application = samples.submitted()
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))
    for report in samples.all_screenings(application):
        await handlers.handle(Topic.VETTING_INTAKE, report)
    assert sent.types() == ["VettingCleared"]
    assert sent.items[0].key == "vol-1" and sent.items[0].topic == Topic.VETTING_EVENTS
    record = await store.cases.load("app-1")
    assert record.state is not None and record.state.status is Status.CLEARED


async def test_screening_reports_before_the_application_are_evaluated_when_it_arrives() -> None:
    handlers, store, sent = make()
    application = samples.submitted()
    for report in samples.all_screenings(application):
        await handlers.handle(Topic.VETTING_INTAKE, report)
    waiting = await store.cases.load("app-1")
    assert waiting.state is not None and waiting.state.status is Status.AWAITING_APPLICATION
    assert sent.types() == []
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))
    assert sent.types() == ["VettingCleared"]


async def test_the_stored_case_keeps_no_name_email_or_phone() -> None:
    handlers, store, _ = make()
    await handlers.handle(Topic.APPLICATION_EVENTS, received(samples.submitted()))
    stored = str(store.cases.documents["app-1"])
    assert "Camille" not in stored and "Durand" not in stored and "example.org" not in stored
    assert "2002-05-14" in stored  # the birth date is what the age rule needs


async def test_a_redelivered_fact_changes_nothing_and_emits_nothing() -> None:
    handlers, store, sent = make()
    application = samples.submitted()
    failed = samples.screening(application, Check.BACKGROUND, passed=False)
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))
    await handlers.handle(Topic.VETTING_INTAKE, failed)
    before = await store.cases.load("app-1")
    await handlers.handle(Topic.VETTING_INTAKE, failed)
    assert await store.cases.load("app-1") == before
    assert sent.types() == ["VettingRefused"]


async def test_a_screening_fact_after_the_decision_is_refused_on_vetting_events() -> None:
    handlers, _, sent = make()
    application = samples.submitted()
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))
    await handlers.handle(Topic.VETTING_INTAKE, samples.screening_deadline(application))
    await handlers.handle(Topic.VETTING_INTAKE, samples.screening(application, Check.MEDICAL))
    assert sent.types() == ["VettingRefused", "TransitionRefused"]
    assert {item.topic for item in sent.items} == {Topic.VETTING_EVENTS}


async def test_a_withdrawal_cancels_silently_and_a_later_screening_fact_is_refused() -> None:
    handlers, store, sent = make()
    application = samples.submitted()
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(application))
    assert sent.types() == []
    await handlers.handle(Topic.VETTING_INTAKE, samples.screening(application, Check.INTERVIEW))
    assert sent.types() == ["TransitionRefused"]
    record = await store.cases.load("app-1")
    assert record.state is not None and record.state.status is Status.CANCELLED


async def test_an_upstream_rejection_creates_no_case() -> None:
    handlers, store, sent = make()
    rejected = ApplicationRejected(
        subject_id="vol-1", producer="application", application_id="app-1", reasons=("no language given",)
    )
    await handlers.handle(Topic.APPLICATION_EVENTS, rejected)
    assert store.cases.documents == {} and sent.types() == []


async def test_an_outbox_left_by_a_crash_is_published_on_redelivery() -> None:
    store, sent = InMemoryVettingStore(), Sent()

    async def crash(outgoing: Iterable[Outgoing]) -> None:
        raise ConnectionError("broker down")

    event = received(samples.submitted(volunteer_fields={"nationality": "PE"}))
    with contextlib.suppress(ConnectionError):
        await VettingHandlers(store, crash).handle(Topic.APPLICATION_EVENTS, event)
    assert len((await store.cases.load("app-1")).outbox) == 1
    await VettingHandlers(store, sent).handle(Topic.APPLICATION_EVENTS, event)
    assert sent.types() == ["VettingRefused"]


async def test_an_erased_application_leaves_a_tombstone_that_refuses_every_later_fact() -> None:
    handlers, store, sent = make()
    application = samples.submitted()
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))
    await handlers.handle(Topic.APPLICATION_EVENTS, samples.erasure_completed(application))
    record = await store.cases.load("app-1")
    assert record.erased and record.state is None and "2002-05-14" not in str(store.cases.documents)
    assert sent.types() == ["ErasureCompleted"] and sent.items[0].topic == Topic.VETTING_EVENTS
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))  # redelivered or replayed
    for report in samples.all_screenings(application):
        await handlers.handle(Topic.VETTING_INTAKE, report)
    assert await store.cases.load("app-1") == record and sent.types() == ["ErasureCompleted"]


async def test_an_erasure_before_the_application_arrived_keeps_it_from_being_created() -> None:
    handlers, store, sent = make()
    application = samples.submitted()
    await handlers.handle(Topic.APPLICATION_EVENTS, samples.erasure_completed(application))
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))
    record = await store.cases.load("app-1")
    assert record.erased and record.state is None and sent.types() == ["ErasureCompleted"]
