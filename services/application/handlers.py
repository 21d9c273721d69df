"""Application use-cases: load, decide with the domain, save with the outgoing events."""

from __future__ import annotations

from services.application.domain import Application, Status, decide
from services.application.store import ApplicationStore
from shared.aggregates import Outgoing
from shared.contracts.application import ApplicationSubmitted, WithdrawalRequested
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.processing import Publish, apply_once

CLOSED = (Status.REJECTED, Status.WITHDRAWN)


class ApplicationHandlers:
    """Handle the portal's facts."""

    def __init__(self, store: ApplicationStore, publish: Publish) -> None:
        self.store = store
        self.publish = publish

    async def handle(self, topic: str, event: Event) -> None:
        """Apply one portal fact to its application."""
        assert isinstance(event, ApplicationSubmitted | WithdrawalRequested)
        duplicate = False
        if isinstance(event, ApplicationSubmitted):
            claim = _claim_key(event.volunteer.volunteer_id, event.wishes.scheme)
            duplicate = not await self.store.claims.claim(claim, event.application_id)

        def decide_outgoing(state: Application | None) -> tuple[Application | None, list[Outgoing]]:
            new_state, events = decide(state, event, duplicate=duplicate)
            return new_state, [Outgoing.of(Topic.APPLICATION_EVENTS, e) for e in events]

        record = await apply_once(
            self.store.applications, event.application_id, event, decide_outgoing, self.publish
        )
        if record.state and record.state.status in CLOSED:
            claim = _claim_key(record.state.volunteer_id, record.state.scheme)
            await self.store.claims.release(claim, event.application_id)


def _claim_key(volunteer_id: str, scheme: str) -> str:
    return f"{volunteer_id}:{scheme}"
