"""Placement use-cases: keep candidates and openings, reserve seats, propose, confirm, compensate.

A fact is applied to its candidate; a candidate it leaves waiting for a seat then looks for one: the seat
is reserved (a unique key, outside the aggregate: a redelivery finds it as its own) and the reservation
applied as a fact, `SeatReserved`, which proposes it. Seats are released after the state that frees them
is saved (re-derived from the saved state by `_tidy`, so a redelivery releases what a crash left). One
fact that frees seats (an opening published, a seat given back) offers them to each waiting candidate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from services.placement.domain import (
    HOLDS_ANOTHER_PLACEMENT,
    NO_OPENING_SUITS,
    NO_SEAT_FREE,
    Candidate,
    Decision,
    OfferSuggested,
    applicant_selected,
    apply_to_offer,
    choice_unseated,
    decide,
    deferred_offers,
    next_placement_id,
    offer_suggested,
    proposal_answered,
    seat_reserved,
    seat_search,
    select,
    suggestion_stands,
    suggestions,
    waiting_since,
)
from services.placement.notices import PartnerNews, Placement, on_shortlist, partner_topics, refusal_told
from services.placement.openings import (
    Listing,
    applicant_listed,
    approve,
    offered,
    register,
    resolve,
    resolve_answer,
    shortlist,
)
from services.placement.seating import (
    Hold,
    claims_unused_through,
    releasable_placement_ids,
    seats_may_have_changed,
    stale,
)
from services.placement.store import PlacementStore
from shared.aggregates import Outgoing, Record
from shared.contracts.application import (
    ApplicationReceived,
    ApplicationWithdrawn,
    ErasureCompleted,
    TransitionRefused,
)
from shared.contracts.departure import (
    ArrivalConfirmed,
    DepartureCancelled,
    MissionEnded,
    MissionEndingEarly,
    MissionExtended,
    VolunteerDeparted,
)
from shared.contracts.envelope import Event
from shared.contracts.intake import BY_OPENING
from shared.contracts.placement import (
    ApplicantSelected,
    CandidateSelected,
    ChoiceApproved,
    HostingApproved,
    OfferApplied,
    Opening,
    OpeningPublished,
    PlacementAnswered,
    ProposalAnswered,
)
from shared.contracts.topics import Topic
from shared.contracts.vetting import VettingCleared, VettingRefused
from shared.processing import (
    Publish,
    apply_once,
    apply_to,
    current_position,
    forget_published,
    has_applied,
    republished,
)
from shared.retry import ConcurrentWriteError

CandidateFact = (
    ApplicationReceived
    | ApplicationWithdrawn
    | ErasureCompleted
    | VettingCleared
    | VettingRefused
    | PlacementAnswered
    | DepartureCancelled
    | VolunteerDeparted
    | ArrivalConfirmed
    | MissionExtended
    | MissionEndingEarly
    | MissionEnded
)
S = TypeVar("S")
R = TypeVar("R", ApplicantSelected, ProposalAnswered)  # a host's fact by reference, resolved on its opening
log = logging.getLogger(__name__)
REOFFERING: ContextVar[bool] = ContextVar("reoffering", default=False)  # offering a seat given back
SAVED: ContextVar[set[str] | None] = ContextVar("saved", default=None)  # candidates this attempt saved


class PlacementHandlers:
    """Handle application, vetting, host and departure facts."""

    def __init__(
        self,
        store: PlacementStore,
        publish: Publish,
        pseudonym: Callable[[str, str], str],
        key_version: int = 1,
        shared_partner_topic: bool = True,
    ) -> None:
        self.store = store
        self.publish = publish
        self.pseudonym = pseudonym  # (partner, volunteer id) -> the reference that partner sees
        self.key_version = key_version  # of the key `pseudonym` uses
        self.shared_partner_topic = shared_partner_topic  # false: retired, partners read their own alone
        # volunteers another application held at this process's last claim: their next seat search reads
        # the holder before reserving (a hint that saves a seat reserved in vain; the claim decides)
        self.held_elsewhere: set[str] = set()

    async def handle(self, topic: str, event: Event) -> None:
        """Apply one fact; a refusal of a partner's fact by departure is told to the partner; anything else
        (rejections, checklist progress, other refusals) is not placement's."""
        attempt = SAVED.set(set())
        try:
            await self._handle(event)
        finally:
            SAVED.reset(attempt)

    async def _handle(self, event: Event) -> None:
        if isinstance(event, OpeningPublished):
            await apply_once(
                self.store.openings,
                event.opening.opening_id,
                event,
                self._outgoing(lambda state: register(state, event)),
                self.publish,
            )
            await self._offer_seats(event)
        elif isinstance(event, HostingApproved):
            approval = self._outgoing(lambda state: approve(state, event))
            await apply_once(self.store.openings, event.opening_id, event, approval, self.publish)
            await self._offer_seats(event)
        elif isinstance(event, CandidateSelected | ChoiceApproved):
            await self._select(event)
        elif isinstance(event, ApplicantSelected):
            await self._select_applicant(event)
        elif isinstance(event, ProposalAnswered):
            await self._answer_by_reference(event)
        elif isinstance(event, OfferApplied):
            await self._apply_to_offer(event)
        elif isinstance(event, CandidateFact):
            await self._apply(event)
        elif (
            isinstance(event, TransitionRefused)
            and event.producer == "departure"
            and (told := refusal_told(event))
        ):
            await self.publish([Outgoing.of(*told)])  # departure's refusal of a partner's fact, relayed

    async def _apply(self, event: CandidateFact) -> None:
        """Apply a candidate's own fact; the offers applied to before the application was received are
        applied once it is; a candidate it leaves waiting then looks for a seat; a seat it frees is offered
        to the waiting candidates."""
        record = await self.store.candidates.load(event.application_id)
        await self._seek_seat(await self._save(record, event, lambda state: decide(state, event)), event)
        if may_free_a_seat(event):
            await self._offer_seats(event)

    async def _select(self, event: CandidateSelected | ChoiceApproved) -> None:
        """The host or the agency chose a candidate for the host's opening: note it (or refuse it), then,
        once both chose them, seek a seat there."""
        record = await self.store.candidates.load(event.application_id)
        listing = (await self.store.openings.load(event.opening_id)).state
        saved = await self._save(record, event, lambda state: select(state, event, listing))
        # a choice changes no suggestion: none made here, so the refusal is judged on the record it saved
        why = await self._seek_seat(saved, event, suggesting=False)
        unseated = choice_unseated(event, saved.state, why) if why else None
        if unseated is not None:  # no longer chosen: any free seat that suits may be its own again
            released = await self._save(saved, unseated, lambda state: decide(state, unseated), derived=True)
            await self._seek_seat(released, event, suggesting=False)

    async def _apply_to_offer(self, event: OfferApplied | OfferSuggested, *, derived: bool = False) -> None:
        """The volunteer applied to an offer, or matching suggests them for it. On a shortlist opening, the
        opening first keeps them under the reference its host will know them by, so the host can choose
        them as soon as the candidate's shortlist entry is out (an entry for an application then refused is
        never sent, and a choice by it meets the candidate's own rules); then the candidate records it and
        publishes the entry; then, waiting, the candidate seeks a seat, the offer applied to first. An offer
        applied to before the application was received is kept by the candidate, which applies it once it
        knows the application; keeping it binds the candidate to no volunteer (the application's, stated by
        Envol, will). `derived`: a kept offer or a suggestion, applied while its candidate seeks a seat
        (`_seek_seat`), as a fact made while handling another message."""
        record = await self.store.candidates.load(event.application_id)
        opening_record = await self.store.openings.load(event.opening_id)
        listing = opening_record.state
        if isinstance(event, OfferSuggested) and not suggestion_stands(record.state, event, listing):
            return  # matching ran on an older state: not made, so it may be made once it stands
        opening = listing.opening if listing else None
        ref = None
        known = record.state is not None and record.state.wishes is not None  # else the offer is kept
        if opening is not None and on_shortlist(opening) and known:
            assert record.state is not None
            ref = self.pseudonym(opening.host_organisation, record.state.volunteer_id)
            listed = applicant_listed(event, ref)
            entry = self._outgoing(lambda state: shortlist(state, listed))
            await apply_to(self.store.openings, opening_record, listed, entry, self.publish, derived=True)
        version = self.key_version
        saved = await self._save(
            record,
            event,
            lambda state: apply_to_offer(state, event, listing, ref, version),
            derived=derived or not known,
        )
        if not derived:
            await self._seek_seat(saved, event)

    async def _select_applicant(self, event: ApplicantSelected) -> None:
        """The host chose an applicant by the reference its shortlist gave: resolved once on the opening
        (or refused there), then the choice of the candidate it named."""
        state = await self._named(event, lambda listing: resolve(listing, event), Listing.chosen_by)
        if state is not None:
            await self._select(applicant_selected(event, state))

    async def _answer_by_reference(self, event: ProposalAnswered) -> None:
        """The host answered a proposal of its opening by its placement id: resolved once on the opening
        (to the application whose proposal holds a seat of it under that id), or refused there; then the
        candidate's answer, as a `PlacementAnswered` of the host."""
        holds = await self.store.seats.holds([event.placement_id])
        proposed = next(
            (
                h.application_id
                for h in holds
                if (h.placement_id, h.opening_id) == (event.placement_id, event.opening_id)
            ),
            None,
        )
        state = await self._named(
            event, lambda listing: resolve_answer(listing, event, proposed), Listing.answered_by
        )
        if state is not None:
            await self._apply(proposal_answered(event, state))

    async def _named(
        self,
        event: R,
        resolution: Callable[[Listing | None], tuple[Listing | None, list[Event]]],
        named: Callable[[Listing, R], str | None],
    ) -> Candidate | None:
        """Resolve a host's fact by reference once on its opening (`resolution`, or refuse it there), and
        return the candidate it names (`named`), if any."""
        listing = (
            await apply_once(
                self.store.openings, event.opening_id, event, self._outgoing(resolution), self.publish
            )
        ).state
        application = named(listing, event) if listing is not None else None
        return (await self.store.candidates.load(application)).state if application else None

    async def _offer_seats(self, trigger: Event) -> None:
        """Offer the seats `trigger` may have made free to every waiting candidate, earliest cleared first.

        A seat freed by one partition's fact while a candidate of another is saved waiting is offered only
        to the candidates listed when its freer reads the list; the freer releases then reads, the candidate
        is listed (by its tidy) then seeks, so one of the two always sees the other and no candidate waits
        beside a free seat.
        """
        for application_id in await self.store.awaiting.ordered():
            record = await self.store.candidates.load(application_id)
            if waiting_since(record.state) is None:
                # listed but no longer waiting: a crash came between a save and its tidy, perhaps before
                # its publish too, and this list is how the trigger's redelivery reaches it
                await self._finish(record)
            else:
                await self._seek_seat(record, trigger)

    async def _seek_seat(
        self, record: Record[Candidate], cause: Event, *, suggesting: bool = True
    ) -> str | None:
        """Apply the offers the candidate kept until it knew the application; then, if it waits, reserve a
        seat for its next proposal and apply the reservation, or, with none reserved and `suggesting`,
        apply matching's suggestions (`suggestions`: openings whose host selects, which suit it); return why
        no seat was reserved for a waiting candidate (None otherwise)."""
        if offers := deferred_offers(record.state):  # kept before the application: applied first, once
            for offer in offers:
                await self._apply_to_offer(offer, derived=True)
            record = await self.store.candidates.load(record.id)
        state = record.state
        if state is None or waiting_since(state) is None:
            return None
        openings = await self._openings()
        placement = await self._reserve(state, cause, openings)
        if isinstance(placement, str):
            if suggesting:
                await self._republish_if_cut_off(record)
                for opening in suggestions(state, openings, cause.occurred_at.date()):
                    await self._apply_to_offer(offer_suggested(cause, state, opening), derived=True)
            return placement
        reserved = seat_reserved(cause, state, placement)
        await self._save(record, reserved, lambda current: decide(current, reserved), derived=True)
        return None

    async def _republish_if_cut_off(self, record: Record[Candidate]) -> None:
        """Publish again what this message saved on a waiting candidate in an attempt cut off before
        publishing it (a retry in place, a redelivery): a suggestion made then is not made again (the
        candidate is on that shortlist already), so nothing else would publish it. Not what this attempt
        saved: that is published already."""
        saved = SAVED.get()
        if current_position.get() is None or saved is None or record.id in saved:
            return
        if again := republished(record):
            await self.publish(again)

    async def _openings(self) -> list[Opening]:
        """The openings volunteers may be offered."""
        return [o for record in await self.store.openings.find({}) if (o := offered(record.state))]

    async def _reserve(self, state: Candidate, cause: Event, openings: list[Opening]) -> Placement | str:
        """Reserve a free seat on the best of `openings` the candidate may take, for its next proposal; else
        say why not."""
        search = seat_search(state, openings, cause.occurred_at.date())
        seats = self.store.seats
        if not search:
            return NO_OPENING_SUITS
        placement_id, attempt = next_placement_id(state), state.attempts + 1
        if state.volunteer_id in self.held_elsewhere:
            if not await self._held_by_another(state):
                self.held_elsewhere.discard(state.volunteer_id)
            elif not await seats.holds([placement_id]):  # else a delivery cut off reserved one: give it back
                return HOLDS_ANOTHER_PLACEMENT
        reserved = await seats.reserve(search, state.application_id, placement_id, attempt)
        if reserved is None:
            return NO_SEAT_FREE  # and no claim on the volunteer: their other applications stay free to go
        opening, seat = reserved
        if not await self._claim(state, attempt):
            # another application of the volunteer holds them: the seat goes back, and, as any seat freed,
            # to whoever waited for it while it was held (unless this is such an offer already)
            hold = Hold(
                seat_id=seat,
                opening_id=opening.opening_id,
                application_id=state.application_id,
                placement_id=placement_id,
                attempt=attempt,
            )
            await seats.release(hold)
            if not REOFFERING.get():
                reoffering = REOFFERING.set(True)
                try:
                    await self._offer_seats(cause)
                finally:
                    REOFFERING.reset(reoffering)
            return HOLDS_ANOTHER_PLACEMENT
        ref = self.pseudonym(opening.host_organisation, state.volunteer_id)
        return Placement(
            placement_id=placement_id,
            seat_id=seat,
            opening=opening,
            volunteer_ref=ref,
            key_version=self.key_version,
        )

    async def _claim(self, state: Candidate, attempt: int) -> bool:
        """Claim the volunteer for this candidate's `attempt`, once it holds a seat. Another application's
        claim stands unless its holder's saved state proves it unused (see `_held_by_another`): then the
        claim is made again. Only a refused claim reads the holder, so a volunteer with one application
        costs one write."""
        seats = self.store.seats
        if await seats.claim_volunteer(state.volunteer_id, state.application_id, attempt):
            return True
        if await self._held_by_another(state):
            self.held_elsewhere.add(state.volunteer_id)
            return False
        return await seats.claim_volunteer(state.volunteer_id, state.application_id, attempt)

    async def _held_by_another(self, state: Candidate) -> bool:
        """Tell whether another application holds the volunteer by a claim still in use. A claim its
        holder's saved state proves unused (left by a crash, a zombie, or a version that claimed before
        reserving) is released, and the volunteer is free."""
        holder = await self.store.seats.holder_of(state.volunteer_id)
        if holder is None or holder[0] == state.application_id:
            return False
        application, held = holder
        other = (await self.store.candidates.load(application)).state
        through = claims_unused_through(other) if other is not None else None
        if through is None or held > through:
            return True
        await self.store.seats.release_volunteer(state.volunteer_id, application, through)
        return False

    async def _save(
        self,
        record: Record[Candidate],
        event: Event,
        decide_fn: Callable[[Candidate | None], Decision],
        *,
        derived: bool = False,
    ) -> Record[Candidate]:
        """Apply once to the loaded record (`derived`: see `apply_to`), then release what the saved state
        proves unused (also when another writer won). A fact found applied publishes the whole outbox and
        tidies in full: a crash may have come before either."""
        if record.erased or has_applied(record, event, derived=derived):
            await self._finish(record)
            return record
        try:
            saved = await apply_to(
                self.store.candidates, record, event, self._outgoing(decide_fn), self.publish, derived=derived
            )
        except ConcurrentWriteError:
            await self._finish(await self.store.candidates.load(record.id))  # the winner may have died
            raise  # retried in place: the fact is applied again on the winner's state
        if (saved_now := SAVED.get()) is not None:
            saved_now.add(saved.id)
        await self._tidy(saved, record.state)
        return saved

    async def _finish(self, record: Record[Candidate]) -> None:
        """Do what the saver of `record` may not have lived to do: publish its outbox, then tidy in full.

        Always the whole outbox, even for a copy of an event at a new offset: the record may hold another
        partition's events that nobody published yet, and the side collections must never run ahead of
        the topics (a seat released before the cancellation that frees it is out would be proposed
        again first: two proposals on one seat, as the topic shows it)."""
        if record.erased:
            # a tombstone's news again on a redelivery, never on a copy of an old fact once known out; but
            # while its saver may have been cut off before publishing it, the news go out before its seat
            # is released (a proposal on that seat must not reach the topic before the news that freed it)
            again = republished(record) or (() if record.news_published else record.outbox)
            if again:
                await self.publish(again)
                record = await forget_published(self.store.candidates, record)
        else:
            await self.publish(record.outbox)
        await self._tidy(record)

    async def _tidy(self, record: Record[Candidate], before: Candidate | None = None) -> None:
        """Bring the side collections in line with the saved record: seats its state no longer uses are
        released, its claim on the volunteer once no proposal of its uses it, and its place in the awaiting
        list. Knowing the state `before` the change, it skips what the change cannot have touched. The
        awaiting list takes the record's version, so a tidy that comes late (a replica slow, or a zombie)
        cannot undo what a newer state listed."""
        state = record.state
        if state is None:
            return
        if seats_may_have_changed(before, state):
            for hold in stale(state, await self.store.seats.holds(releasable_placement_ids(state))):
                await self.store.seats.release(hold)
            through = claims_unused_through(state)
            if through is not None:
                await self.store.seats.release_volunteer(state.volunteer_id, state.application_id, through)
        since = waiting_since(state)
        if since is not None:
            await self.store.awaiting.mark(state.application_id, since, record.version)
        elif before is None or waiting_since(before) is not None:  # unknown before: it may have waited
            await self.store.awaiting.unmark(state.application_id, record.version)

    def _outgoing(
        self, decide_fn: Callable[[S | None], tuple[S | None, list[Event]]]
    ) -> Callable[[S | None], tuple[S | None, list[Outgoing]]]:
        """Adapt a decision to the outbox: a partner update to its partner's own topic and the shared one
        while it is not retired (see `partner_topics`), the rest to placement events; a refusal of a
        partner's own fact is told to that partner too (`refusal_told`)."""

        def decide_outgoing(state: S | None) -> tuple[S | None, list[Outgoing]]:
            new_state, events = decide_fn(state)
            outgoing = [Outgoing.of(topic, e) for e in events for topic in self._topics_of(e)]
            told = (refusal_told(e) for e in events if isinstance(e, TransitionRefused))
            return new_state, [*outgoing, *(Outgoing.of(*refusal) for refusal in told if refusal)]

        return decide_outgoing

    def _topics_of(self, event: Event) -> tuple[str, ...]:
        if not isinstance(event, PartnerNews):
            return (Topic.PLACEMENT_EVENTS,)
        topics = partner_topics(event, self.shared_partner_topic)
        if not topics:  # the host is not onboarded, and the shared topic is retired
            log.warning(
                "%s of %s reaches no partner: its host is not onboarded as a partner and the shared "
                "partner topic is retired (ENVOL_SHARED_PARTNER_TOPIC)", event.event_type, event.subject_id,
            )  # fmt: skip
        return topics


def may_free_a_seat(event: Event) -> bool:
    """Tell whether a fact may free a seat, which is then offered to the awaiting candidates (a seat freed
    by an early end goes to whoever the opening's dates suit)."""
    declined = isinstance(event, PlacementAnswered) and not event.accepted
    ended_early = isinstance(event, MissionEnded) and event.early
    return (
        declined
        or ended_early
        or isinstance(event, VettingRefused | ApplicationWithdrawn | DepartureCancelled | ErasureCompleted)
    )


def touches_other_candidates(topic: str, event: Event) -> bool:
    """Tell whether handling a fact may write other candidates than its own (it must run alone)."""
    return isinstance(event, BY_OPENING) or may_free_a_seat(event)
