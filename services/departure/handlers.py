"""Departure use-cases: load, decide with the domain, save with the outgoing events."""

from __future__ import annotations

from services.departure.domain import Concerned, Departure, decide
from services.departure.store import DepartureStore
from shared.aggregates import Outgoing
from shared.contracts.envelope import Event
from shared.contracts.placement import PlacementCancelled
from shared.contracts.topics import Topic
from shared.processing import Publish, apply_once, load


class DepartureHandlers:
    """Handle placement and application events and the pre-departure facts."""

    def __init__(self, store: DepartureStore, publish: Publish) -> None:
        self.store = store
        self.publish = publish

    async def handle(self, topic: str, event: Event) -> None:
        """Apply one event to its departure case; events departure does not act on leave no trace."""
        if not isinstance(event, Concerned):
            return  # e.g. PlacementProposed, ApplicationReceived, another service's TransitionRefused
        if isinstance(event, PlacementCancelled) and not await self._known(event.application_id):
            return  # a proposal declined before any departure case existed

        def decide_outgoing(state: Departure | None) -> tuple[Departure | None, list[Outgoing]]:
            new_state, events = decide(state, event)
            return new_state, [Outgoing.of(Topic.DEPARTURE_EVENTS, e) for e in events]

        await apply_once(self.store.departures, event.application_id, event, decide_outgoing, self.publish)

    async def _known(self, application_id: str) -> bool:
        return (await load(self.store.departures, application_id)).state is not None
