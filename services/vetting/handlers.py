"""Vetting use-cases: load the case, decide with the domain, save with the outgoing events."""

from __future__ import annotations

from services.vetting.domain import Case, decide
from services.vetting.store import VettingStore
from shared.aggregates import Outgoing
from shared.contracts.application import ApplicationReceived, ApplicationWithdrawn, ErasureCompleted
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.contracts.vetting import ScreeningDeadlinePassed, ScreeningReported
from shared.processing import Publish, apply_once

# What vetting applies; anything else on its topics (ApplicationRejected, TransitionRefused) is ignored.
RELEVANT = (
    ApplicationReceived,
    ApplicationWithdrawn,
    ErasureCompleted,
    ScreeningReported,
    ScreeningDeadlinePassed,
)


class VettingHandlers:
    """Handle the application service's events and the screening providers' facts."""

    def __init__(self, store: VettingStore, publish: Publish) -> None:
        self.store = store
        self.publish = publish

    async def handle(self, topic: str, event: Event) -> None:
        """Apply one fact to the vetting case of its application."""
        if not isinstance(event, RELEVANT):
            return

        def decide_outgoing(state: Case | None) -> tuple[Case | None, list[Outgoing]]:
            new_state, events = decide(state, event)
            return new_state, [Outgoing.of(Topic.VETTING_EVENTS, e) for e in events]

        await apply_once(self.store.cases, event.application_id, event, decide_outgoing, self.publish)
