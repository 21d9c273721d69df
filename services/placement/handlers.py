"""Placement use-cases: keep candidates and openings, reserve seats, propose, confirm, compensate.

Seats are side effects outside the aggregates: a seat is reserved before the proposal is saved (a
redelivery finds it as its own) and released after the cancellation is saved (re-derived from the saved
state by `_tidy`, so a redelivery releases what a crash left). One fact that concerns several candidates
(an opening published, a freed seat) is applied to each with the same event id: a redelivery skips those
done and continues with the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from services.placement.domain import (
    FINISHED,
    Candidate,
    Decision,
    Status,
    decide,
    next_placement_id,
    propose,
    select,
    selection_problems,
)
from services.placement.matching import ranked
from services.placement.notices import Placement
from services.placement.openings import register
from services.placement.seating import releasable_placement_ids, seats_may_have_changed, stale
from services.placement.store import PlacementStore
from shared.aggregates import Outgoing, Record
from shared.contracts.application import ApplicationReceived, ApplicationWithdrawn
from shared.contracts.departure import ArrivalConfirmed, DepartureCancelled, MissionEnded, VolunteerDeparted
from shared.contracts.envelope import Event
from shared.contracts.partner import PlacementUpdated
from shared.contracts.placement import CandidateSelected, Opening, OpeningPublished, PlacementAnswered
from shared.contracts.topics import Topic
from shared.contracts.vetting import VettingCleared, VettingRefused
from shared.processing import Publish, apply_once, apply_to, has_applied, subject_after
from shared.retry import ConcurrentWriteError

CandidateFact = (
    ApplicationReceived
    | ApplicationWithdrawn
    | VettingCleared
    | VettingRefused
    | PlacementAnswered
    | DepartureCancelled
    | VolunteerDeparted
    | ArrivalConfirmed
    | MissionEnded
)
S = TypeVar("S")


class PlacementHandlers:
    """Handle application, vetting, host and departure facts."""

    def __init__(self, store: PlacementStore, publish: Publish, pseudonym: Callable[[str, str], str]) -> None:
        self.store = store
        self.publish = publish
        self.pseudonym = pseudonym  # (partner, volunteer id) -> the reference that partner sees

    async def handle(self, topic: str, event: Event) -> None:
        """Apply one fact; anything else (rejections, checklist progress, refusals) is not placement's."""
        if isinstance(event, OpeningPublished):
            await apply_once(
                self.store.openings,
                event.opening.opening_id,
                event,
                _outgoing(lambda state: register(state, event)),
                self.publish,
            )
            await self._offer_seats(event)
        elif isinstance(event, CandidateSelected):
            await self._select(event)
        elif isinstance(event, CandidateFact):
            await self._apply(event)
            if may_free_a_seat(event):
                await self._offer_seats(event)

    async def _apply(self, event: CandidateFact) -> None:
        """Apply a candidate's own fact; reserve a seat first if the fact leaves it waiting for one."""
        record = await self.store.candidates.load(event.application_id)
        subject_after(record, event)  # an outside fact about another volunteer reserves nothing
        offer = None
        if not has_applied(record, event):
            preview, _ = decide(record.state, event)
            waiting = record.state is not None and record.state.status is Status.AWAITING
            if preview is not None and preview.status is Status.AWAITING and not waiting:
                offer = await self._reserve(preview, event)
        saved = await self._save(record, event, lambda state: decide(state, event, offer=offer))
        await self._look_again(saved, event)

    async def _select(self, event: CandidateSelected) -> None:
        """The host chose a candidate: reserve a seat of its opening for them, then propose it (or refuse)."""
        record = await self.store.candidates.load(event.application_id)
        subject_after(record, event)
        opening = (await self.store.openings.load(event.opening_id)).state
        offer = None
        if not has_applied(record, event) and not selection_problems(record.state, event, opening):
            assert record.state is not None and opening is not None
            offer = await self._reserve_on(record.state, [opening])
        await self._save(record, event, lambda state: select(state, event, opening, offer))

    async def _look_again(self, record: Record[Candidate], cause: Event) -> None:
        """Look for a seat once more if the candidate is saved waiting, and so listed as such.

        A seat freed meanwhile by another partition's fact is offered only to the candidates listed when
        its freer reads the list; the freer releases then reads, the candidate is listed then looks here,
        so one of the two always sees the other and no candidate waits beside a free seat. The proposal
        belongs to `cause` (a redelivery of it comes here again); `propose` changes nothing once made.
        """
        if record.state is None or record.state.status is not Status.AWAITING:
            return
        offer = await self._reserve(record.state, cause)
        if offer is not None:
            propose_it = lambda current: propose(current, cause, offer)  # noqa: E731
            await self._save(record, cause, propose_it, again=True)

    async def _offer_seats(self, trigger: Event) -> None:
        """Try to place every awaiting candidate, earliest cleared first."""
        for application_id in await self.store.awaiting.ordered():
            await self._match(application_id, trigger)

    async def _match(self, application_id: str, trigger: Event) -> None:
        record = await self.store.candidates.load(application_id)
        state = record.state
        if has_applied(record, trigger) or state is None or state.status is not Status.AWAITING:
            # proposed by an earlier delivery of the trigger, or listed but no longer waiting: a crash came
            # between a save and its tidy, perhaps before its publish too, and this list is how the
            # trigger's redelivery reaches it
            await self._finish(record)
            return
        offer = await self._reserve(state, trigger)
        if offer is not None:
            await self._save(
                record, trigger, lambda current: propose(current, trigger, offer), about_it=False
            )

    async def _reserve(self, state: Candidate, trigger: Event) -> Placement | None:
        """Reserve a seat on the best suitable opening for the candidate's next proposal, if any is free."""
        if state.wishes is None or state.nationality is None:
            return None
        openings = [record.state for record in await self.store.openings.find({}) if record.state is not None]
        on = trigger.occurred_at.date()
        return await self._reserve_on(
            state, ranked(openings, state.wishes, state.nationality, state.excluded, on, state.limits)
        )

    async def _reserve_on(self, state: Candidate, suitable: list[Opening]) -> Placement | None:
        """Reserve a seat on the first of `suitable` with one free, for the candidate's next proposal."""
        seats = self.store.seats
        if not suitable or not await seats.claim_volunteer(state.volunteer_id, state.application_id):
            return None
        placement_id = next_placement_id(state)
        reserved = await seats.reserve(suitable, state.application_id, placement_id, state.attempts + 1)
        if reserved is None:
            return None
        opening, seat = reserved
        ref = self.pseudonym(opening.host_organisation, state.volunteer_id)
        return Placement(placement_id=placement_id, seat_id=seat, opening=opening, volunteer_ref=ref)

    async def _save(
        self,
        record: Record[Candidate],
        event: Event,
        decide_fn: Callable[[Candidate | None], Decision],
        *,
        again: bool = False,
        about_it: bool = True,
    ) -> Record[Candidate]:
        """Apply once to the loaded record (`again`: see `apply_to`), then release what the saved state
        proves unused (also when another writer won). A crash before the release is mended by the
        redelivery, which comes here too and tidies in full."""
        if has_applied(record, event) and not again:
            await self._finish(record)
            return record
        try:
            decide_outgoing = _outgoing(decide_fn)
            saved = await apply_to(
                self.store.candidates,
                record,
                event,
                decide_outgoing,
                self.publish,
                again=again,
                about_it=about_it,
            )
        except ConcurrentWriteError:
            await self._finish(await self.store.candidates.load(record.id))  # the winner may have died
            raise  # retried in place: the fact is applied again on the winner's state
        await self._tidy(saved, record.state)
        return saved

    async def _finish(self, record: Record[Candidate]) -> None:
        """Do what the saver of `record` may not have lived to do: publish its outbox, then tidy in full.

        Always the whole outbox, even for a copy of an event at a new offset: the record may hold another
        partition's events that nobody published yet, and the side collections must never run ahead of
        the topics (a seat released before the cancellation that frees it is out would be proposed
        again first: two proposals on one seat, as the topic shows it)."""
        await self.publish(record.outbox)
        await self._tidy(record)

    async def _tidy(self, record: Record[Candidate], before: Candidate | None = None) -> None:
        """Bring the side collections in line with the saved record: seats its state no longer uses are
        released, the volunteer's active placement once closed, and its place in the awaiting list. Knowing
        the state `before` the change, it skips what the change cannot have touched. The awaiting list
        takes the record's version, so a tidy that comes late (a replica slow, or a zombie) cannot undo what
        a newer state listed."""
        state = record.state
        if state is None:
            return
        if seats_may_have_changed(before, state):
            for hold in stale(state, await self.store.seats.holds(releasable_placement_ids(state))):
                await self.store.seats.release(hold)
        if state.status in FINISHED:
            await self.store.seats.release_volunteer(state.volunteer_id, state.application_id)
        if state.status is Status.AWAITING and state.cleared_at is not None:
            await self.store.awaiting.mark(state.application_id, state.cleared_at, record.version)
        elif before is None or before.status is Status.AWAITING:  # unknown before: it may have waited
            await self.store.awaiting.unmark(state.application_id, record.version)


def may_free_a_seat(event: Event) -> bool:
    """Tell whether a fact may free a seat, which is then offered to the awaiting candidates (a seat freed
    by an early end goes to whoever the opening's dates suit)."""
    declined = isinstance(event, PlacementAnswered) and not event.accepted
    ended_early = isinstance(event, MissionEnded) and event.early
    return (
        declined
        or ended_early
        or isinstance(event, VettingRefused | ApplicationWithdrawn | DepartureCancelled)
    )


def touches_other_candidates(topic: str, event: Event) -> bool:
    """Tell whether handling a fact may write other candidates than its own (it must run alone)."""
    return isinstance(event, OpeningPublished) or may_free_a_seat(event)


def _outgoing(
    decide_fn: Callable[[S | None], tuple[S | None, list[Event]]],
) -> Callable[[S | None], tuple[S | None, list[Outgoing]]]:
    """Adapt a decision to the outbox: partner updates to the partner topic, the rest to placement events."""

    def decide_outgoing(state: S | None) -> tuple[S | None, list[Outgoing]]:
        new_state, events = decide_fn(state)
        return new_state, [
            Outgoing.of(
                Topic.PARTNER_PLACEMENT_UPDATES
                if isinstance(e, PlacementUpdated)
                else Topic.PLACEMENT_EVENTS,
                e,
            )
            for e in events
        ]

    return decide_outgoing
