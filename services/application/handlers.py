"""Application use-cases: load, decide with the domain, save with the outgoing events."""

from __future__ import annotations

from typing import Any

from services.application.domain import Application, Erasure, Status, decide, erase, erased_by, erasure
from services.application.store import ApplicationStore
from shared.aggregates import Outgoing, Record
from shared.contracts.application import ApplicationSubmitted, ErasureRequested, WithdrawalRequested
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.processing import Publish, after_save, apply_once, apply_to, gathered, load
from shared.retry import is_transient

CLOSED = (Status.REJECTED, Status.WITHDRAWN)


class ApplicationHandlers:
    """Handle the portal's facts, and the agency's erasure requests."""

    def __init__(self, store: ApplicationStore, publish: Publish) -> None:
        self.store = store
        self.publish = publish

    async def handle(self, topic: str, event: Event) -> None:
        """Apply one portal fact to its application, or an erasure request to the volunteer's."""
        if isinstance(event, ErasureRequested):
            await self._erase(event)
            return
        assert isinstance(event, ApplicationSubmitted | WithdrawalRequested)
        duplicate, claim = False, None
        if isinstance(event, ApplicationSubmitted):
            claim = _claim_key(event.volunteer.volunteer_id, event.wishes.scheme)
            duplicate = not await gathered(self.store.claims.claim_many, (claim, event.application_id))

        def decide_outgoing(state: Application | None) -> tuple[Application | None, list[Outgoing]]:
            new_state, events = decide(state, event, duplicate=duplicate)
            return new_state, [Outgoing.of(Topic.APPLICATION_EVENTS, e) for e in events]

        try:
            await apply_once(
                self.store.applications, event.application_id, event, decide_outgoing, self.publish
            )
        except Exception as error:
            if claim is not None and not is_transient(error):  # refused (another volunteer's id): no claim
                await after_save(lambda: self._release_unless_held(claim, event.application_id))
            raise
        await after_save(lambda: self._settle(event, claim))

    async def _settle(self, event: ApplicationSubmitted | WithdrawalRequested, claim: str | None) -> None:
        """Once the application is saved: erase it if its volunteer's erasure came first, and release its
        claim if it is closed or erased."""
        record = await load(self.store.applications, event.application_id)
        if isinstance(event, ApplicationSubmitted) and not record.erased:
            # stated before the volunteer's erasure but applied after it (late from its topic, or replayed
            # from the dead letters): erased now. Checked after the save, as the erasure lists the
            # applications after noting the request, so one of the two always sees the other.
            covering = await self._erasure_of(event)
            if covering is not None:
                await self._erase_application(covering, record)
                return
        if record.erased and claim is not None:
            await self.store.claims.release(claim, event.application_id)
        elif record.state and record.state.status in CLOSED:
            claim = _claim_key(record.state.volunteer_id, record.state.scheme)
            await self.store.claims.release(claim, event.application_id)

    async def _erasure_of(self, submitted: ApplicationSubmitted) -> ErasureRequested | None:
        """The erasure request of the volunteer that a submission falls under, if any."""
        return erased_by(submitted, (await load(self.store.erasures, submitted.volunteer.volunteer_id)).state)

    async def _erase(self, request: ErasureRequested) -> None:
        """Note the request under the volunteer, then erase each of their applications. Every step is
        recognised by the request's identity, so a redelivery finishes what a crash cut short."""

        def note(state: Erasure | None) -> tuple[Erasure, list[Outgoing]]:
            return erasure(state, request), []

        await apply_once(self.store.erasures, request.volunteer_id, request, note, self.publish)
        for record in await self.store.applications.find({"subject": request.volunteer_id}):
            await self._erase_application(request, record)

    async def _erase_application(self, request: ErasureRequested, record: Record[Application]) -> None:
        """Make one application a tombstone, say so downstream, and release its claim."""

        def tombstone(state: Application | None) -> tuple[Any, list[Outgoing]]:
            tombstone_state, events = erase(request, record.id, state)
            return tombstone_state, [Outgoing.of(Topic.APPLICATION_EVENTS, e) for e in events]

        saved = await apply_to(
            self.store.applications, record, request, tombstone, self.publish, derived=True
        )
        if saved.state is not None:  # kept by the tombstone, so a redelivery releases it too
            await self.store.claims.release(
                _claim_key(saved.state.volunteer_id, saved.state.scheme), record.id
            )

    async def _release_unless_held(self, claim: str, application_id: str) -> None:
        """Release `claim` unless the stored application under that id is an open one it is the claim of."""
        record = await load(self.store.applications, application_id)
        stored = record.state
        if (
            record.erased
            or stored is None
            or stored.status in CLOSED
            or _claim_key(stored.volunteer_id, stored.scheme) != claim
        ):
            await self.store.claims.release(claim, application_id)


def _claim_key(volunteer_id: str, scheme: str) -> str:
    return f"{volunteer_id}:{scheme}"
