"""Application use-cases: load, decide with the domain, save with the outgoing events."""

from __future__ import annotations

from services.application.domain import Application, Status, decide
from services.application.store import ApplicationStore
from shared.aggregates import Outgoing
from shared.contracts.application import ApplicationSubmitted, WithdrawalRequested
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.processing import Publish, apply_once
from shared.retry import is_transient

CLOSED = (Status.REJECTED, Status.WITHDRAWN)


class ApplicationHandlers:
    """Handle the portal's facts."""

    def __init__(self, store: ApplicationStore, publish: Publish) -> None:
        self.store = store
        self.publish = publish

    async def handle(self, topic: str, event: Event) -> None:
        """Apply one portal fact to its application."""
        assert isinstance(event, ApplicationSubmitted | WithdrawalRequested)
        duplicate, claim = False, None
        if isinstance(event, ApplicationSubmitted):
            claim = _claim_key(event.volunteer.volunteer_id, event.wishes.scheme)
            duplicate = not await self.store.claims.claim(claim, event.application_id)

        def decide_outgoing(state: Application | None) -> tuple[Application | None, list[Outgoing]]:
            new_state, events = decide(state, event, duplicate=duplicate)
            return new_state, [Outgoing.of(Topic.APPLICATION_EVENTS, e) for e in events]

        try:
            record = await apply_once(
                self.store.applications, event.application_id, event, decide_outgoing, self.publish
            )
        except Exception as error:
            if claim is not None and not is_transient(error):  # refused (another volunteer's id): no claim
                await self._release_unless_held(claim, event.application_id)
            raise
        if record.state and record.state.status in CLOSED:
            claim = _claim_key(record.state.volunteer_id, record.state.scheme)
            await self.store.claims.release(claim, event.application_id)

    async def _release_unless_held(self, claim: str, application_id: str) -> None:
        """Release `claim` unless the stored application under that id is an open one it is the claim of."""
        stored = (await self.store.applications.load(application_id)).state
        if (
            stored is None
            or stored.status in CLOSED
            or _claim_key(stored.volunteer_id, stored.scheme) != claim
        ):
            await self.store.claims.release(claim, application_id)


def _claim_key(volunteer_id: str, scheme: str) -> str:
    return f"{volunteer_id}:{scheme}"
