"""Departure use-cases: load, decide with the domain, save with the outgoing events."""

from __future__ import annotations

from services.departure.domain import (
    Concerned,
    Departure,
    Hosted,
    decide,
    followed,
    kept_report,
    reported,
)
from services.departure.store import DepartureStore
from shared.aggregates import Outgoing, Record, erased
from shared.contracts.application import ErasureCompleted
from shared.contracts.departure import PlacementReported
from shared.contracts.envelope import Event
from shared.contracts.placement import PlacementCancelled, PlacementConfirmed
from shared.contracts.topics import Topic
from shared.processing import Publish, apply_once, load, redelivered


class DepartureHandlers:
    """Handle placement and application events and the pre-departure facts."""

    def __init__(self, store: DepartureStore, publish: Publish) -> None:
        self.store = store
        self.publish = publish

    async def handle(self, topic: str, event: Event) -> None:
        """Apply one event to its departure case; events departure does not act on leave no trace."""
        if isinstance(event, PlacementReported):
            await self._report(event)
            return
        if not isinstance(event, Concerned):
            return  # e.g. PlacementProposed, ApplicationReceived, another service's TransitionRefused
        if isinstance(event, PlacementCancelled) and not await self._known(event.application_id):
            return  # a proposal declined before any departure case existed
        if isinstance(event, ErasureCompleted):
            await self._forget_placements(event)
        case = await self._apply(event)
        if isinstance(event, PlacementConfirmed):
            await self._follow(event, case)

    async def _apply(self, event: Concerned, *, derived: bool = False) -> Record[Departure]:
        def decide_outgoing(state: Departure | None) -> tuple[Departure | None, list[Outgoing]]:
            new_state, events = decide(state, event)
            return new_state, [Outgoing.of(Topic.DEPARTURE_EVENTS, e) for e in events]

        return await apply_once(
            self.store.departures, event.application_id, event, decide_outgoing, self.publish, derived=derived
        )

    async def _report(self, report: PlacementReported) -> None:
        """A host's report by placement id: applied to the case that follows the placement, as the fact it
        stands for, once its confirmation is known; kept on the placement until then."""
        record = await load(self.store.placements, report.placement_id)
        if record.erased:
            return  # the volunteer's data is erased: the report has nothing left to reach
        if record.state is not None and record.state.known:
            await self._apply(reported(report, record.state))
            return

        def kept(placement: Hosted | None) -> tuple[Hosted | None, list[Outgoing]]:
            state, events = kept_report(placement, report)
            return state, [Outgoing.of(Topic.DEPARTURE_EVENTS, e) for e in events]

        await apply_once(self.store.placements, report.placement_id, report, kept, self.publish)

    async def _follow(self, confirmed: PlacementConfirmed, case: Record[Departure]) -> None:
        """Know the placement the case now follows by its id, and apply the reports kept on it, each as a
        fact derived from this confirmation (recognised by its own id: the case has this message's offset
        already), again on a redelivery, not on a copy of a confirmation applied before. A confirmation the
        case refused leaves the placement unknown; one that finds the case erased (before, or meanwhile: a
        save of this placement may have come first) leaves the placement a tombstone."""
        placements, placement_id = self.store.placements, confirmed.placement_id
        if case.erased:
            await apply_once(placements, placement_id, confirmed, lambda _: (erased(), []), self.publish)
            return
        if case.state is None or case.state.placement_id != placement_id:
            return
        state, before = case.state, await load(placements, placement_id)
        placement = (
            await apply_once(
                placements,
                placement_id,
                confirmed,
                lambda known: (followed(state, confirmed, known), []),
                self.publish,
            )
        ).state
        if placement is None or (before.state is not None and before.state.known and not redelivered(before)):
            return
        for report in placement.early:
            await self._apply(reported(report, placement), derived=True)

    async def _forget_placements(self, erasure: ErasureCompleted) -> None:
        """Make each placement of the erased volunteer's cases a tombstone, so no report reaches an erased
        case and no confirmation delivered again knows it anew: those stored (found by the volunteer every
        record keeps), and the case's own, which this batch may have applied and not saved yet."""
        stored = await self.store.placements.find({"subject": erasure.subject_id})
        case = (await load(self.store.departures, erasure.application_id)).state
        placements = {p.id for p in stored if not p.erased}
        if case is not None and case.placement_id is not None:
            placements.add(case.placement_id)
        for placement_id in sorted(placements):
            await apply_once(
                self.store.placements, placement_id, erasure, lambda _: (erased(), []), self.publish
            )

    async def _known(self, application_id: str) -> bool:
        return (await load(self.store.departures, application_id)).state is not None
