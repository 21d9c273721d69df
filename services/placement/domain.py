"""The candidate state machine: clearance and application, proposal, answers, departure. No I/O.

docs/domain.md, 'The lifecycle' 3: a cleared volunteer is matched to an opening, a seat is reserved, the
placement is proposed to the volunteer and the host, confirmed when both accept, otherwise the seat is
released and matching resumes. 4: a refused visa or a failed medical cancels the departure, which
releases the seat in placement (compensation): the candidate is then closed.

One candidate per application. A candidate that waits for a seat (`waiting_since`) looks for one on the
openings `seat_search` names; the handlers reserve it and apply the reservation as a fact, `SeatReserved`,
which proposes it. Each transition is stated once, here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import StrEnum

import msgspec
from msgspec.structs import replace

from services.placement import notices
from services.placement.matching import MIN_PUBLISHED_DAYS, mismatches, ranked
from services.placement.notices import Applied, Placement
from services.placement.openings import Listing, hosting_problem
from shared.aggregates import erased
from shared.contracts.application import ApplicationReceived, ApplicationWithdrawn, ErasureCompleted, Wishes
from shared.contracts.departure import (
    ArrivalConfirmed,
    DepartureCancelled,
    MissionEnded,
    MissionEndingEarly,
    MissionExtended,
    VolunteerDeparted,
)
from shared.contracts.envelope import Event, caused_by
from shared.contracts.intake import not_the_host
from shared.contracts.partner import MissionStage, PlacementStatus
from shared.contracts.placement import (
    ApplicantSelected,
    CandidateApplied,
    CandidateChosen,
    CandidateSelected,
    CandidateSuggested,
    ChoiceApproved,
    Chooser,
    OfferApplied,
    Opening,
    Party,
    PlacementAnswered,
    ProposalAnswered,
)
from shared.contracts.reasons import ReasonCode
from shared.contracts.vetting import MissionLimits, VettingCleared, VettingRefused
from shared.statemachine import StateMachine, TransitionError, erasure_completed, refusal

PRODUCER = notices.PRODUCER


class Status(StrEnum):
    """Where a candidate stands."""

    NEW = "new"  # never seen: the state before the first event
    AWAITING_CLEARANCE = "awaiting-clearance"  # application known, vetting not cleared yet
    AWAITING_APPLICATION = "awaiting-application"  # cleared, application not seen yet (topics race)
    AWAITING = "awaiting"  # cleared and known, no seat yet
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    DEPARTED = "departed"
    ARRIVED = "arrived"
    ENDED = "ended"  # the mission is over
    CLOSED = "closed"  # no placement made: refused, withdrawn, declined for good or cancelled


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.AWAITING_CLEARANCE, Status.AWAITING_APPLICATION, Status.CLOSED}),
    Status.AWAITING_CLEARANCE: frozenset({Status.AWAITING, Status.CLOSED}),
    Status.AWAITING_APPLICATION: frozenset({Status.AWAITING, Status.CLOSED}),
    Status.AWAITING: frozenset({Status.PROPOSED, Status.CLOSED}),
    Status.PROPOSED: frozenset({Status.CONFIRMED, Status.AWAITING, Status.CLOSED}),  # declined: wait again
    Status.CONFIRMED: frozenset({Status.DEPARTED, Status.CLOSED}),  # closed: departure cancelled
    Status.DEPARTED: frozenset({Status.ARRIVED}),
    Status.ARRIVED: frozenset({Status.ENDED}),
    Status.ENDED: frozenset(),
    Status.CLOSED: frozenset(),
}
MACHINE = StateMachine("candidate", TRANSITIONS)
DECLINED = {Party.VOLUNTEER: ReasonCode.DECLINED_BY_VOLUNTEER, Party.HOST: ReasonCode.DECLINED_BY_HOST}
FINISHED = frozenset({Status.CLOSED, Status.ENDED})  # will never be proposed again: its seats are released
APPLYING = frozenset({Status.AWAITING_CLEARANCE, Status.AWAITING})  # may apply to offers: known, not proposed
UNKNOWN_APPLICATION = frozenset({Status.NEW, Status.AWAITING_APPLICATION})  # an offer applied to is kept
KEPT = "placement-kept"  # the sender a kept offer is applied as (no outside sender can be it)

# Why no seat was reserved for a waiting candidate (a host's choice is refused with it).
NO_OPENING_SUITS = "no opening suits the candidate"
HOLDS_ANOTHER_PLACEMENT = "the volunteer holds a placement of another application"
NO_SEAT_FREE = "no seat of the opening is free"


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """What placement keeps of an application: only what matching needs."""

    status: Status
    application_id: str
    volunteer_id: str
    nationality: str | None = None  # nationals are not eligible in their own country
    wishes: Wishes | None = None
    cleared_at: dt.datetime | None = None  # earliest cleared is offered a freed seat first
    limits: MissionLimits | None = None  # what the scheme allows this volunteer's mission (their clearance)
    attempts: int = 0  # proposals made so far; the next placement id is placement_id_of(state, attempts+1)
    excluded: tuple[str, ...] = ()  # openings declined or cancelled from
    placement: Placement | None = None
    chosen: str | None = None  # the opening whose host chose this candidate, until it is proposed or not
    approved: str | None = None  # the opening the agency chose them for, the same while it lasts

    @property
    def agreed(self) -> str | None:
        """The opening both the host and the agency chose the candidate for, if they agree on one."""
        return self.chosen if self.chosen is not None and self.chosen == self.approved else None

    applied: tuple[Applied, ...] = ()  # the offers the volunteer applied to, in the order applied: kept
    # when the case closes, so an erasure can tell each shortlist's host to forget the reference
    seed: str = ""  # its first fact's event id (an Envol service's random id): placement ids derive from it
    deferred: tuple[OfferApplied, ...] = ()  # offers applied to before the application was received


Decision = tuple[Candidate | None, list[Event]]

# What matching needed and a closed case does not: the volunteer's nationality, wishes (skills,
# languages, dates, places) and mission limits (they follow from the birth date) are not kept once no
# placement will be made (docs/privacy.md). The ids, attempts and excluded openings stay: they release
# seats and refuse late facts.
FORGOTTEN_WHEN_CLOSED: dict[str, object] = {
    "nationality": None,
    "wishes": None,
    "cleared_at": None,
    "limits": None,
}
MAX_OFFERS_APPLIED = 20  # the offers one application may apply to
TOO_MANY_OFFERS = f"an application applies to at most {MAX_OFFERS_APPLIED} offers"
MAX_SUGGESTED = 5  # the openings matching suggests one application for, over its life
TOO_MANY_SUGGESTED = f"matching suggests at most {MAX_SUGGESTED} offers to an application"
SUGGESTER = "placement-matching"  # the sender of a suggestion (no outside sender can be it)


def placement_id_of(state: Candidate, attempt: int) -> str:
    """The id of the candidate's `attempt`-th proposal: deterministic, so a redelivery finds it again, and
    opaque: a hash of the candidate's random seed, so it says nothing of the portal's application id (which
    may be a name) and cannot be guessed from it. Partners key their updates by it."""
    digest = hashlib.sha256(f"{state.seed}|{state.application_id}|{attempt}".encode()).hexdigest()
    return f"pl-{digest[:24]}"


def next_placement_id(state: Candidate) -> str:
    """Return the id of the candidate's next proposal."""
    return placement_id_of(state, state.attempts + 1)


class SeatReserved(Event, frozen=True, tag=True):
    """A seat the handlers reserved for a waiting candidate's next proposal: an internal fact, never
    published, applied to the candidate like any other and recognised by its id (one per proposal), so it
    is applied once. It carries the correlation and causation of the fact that made it look for a seat."""

    application_id: str
    placement: Placement


class OfferSuggested(Event, frozen=True, tag=True):
    """Matching suggests the waiting candidate for an opening whose host selects: an internal fact, never
    published, applied like the volunteer's own application to the offer (it puts them on the shortlist),
    recognised by its id (one per candidate and opening). It carries the correlation and causation of the
    fact that made matching run."""

    application_id: str
    opening_id: str


class ChoiceUnseated(Event, frozen=True, tag=True):
    """No seat of the opening the host and the agency chose the candidate for could be reserved: an
    internal fact, like `SeatReserved`, that refuses the choice that completed theirs with the reason (both
    may choose again once a seat frees)."""

    choice: CandidateSelected | ChoiceApproved
    reason: str


def waiting_since(state: Candidate | None) -> dt.datetime | None:
    """When the candidate began to wait for a seat (its clearance; the earliest cleared is offered a freed
    seat first), or None when it does not wait for one."""
    return state.cleared_at if state is not None and state.status is Status.AWAITING else None


def finished(state: Candidate) -> bool:
    """Tell whether the candidate will never be proposed again: its seats and its volunteer are free."""
    return state.status in FINISHED


def seat_search(state: Candidate, openings: list[Opening], on: dt.date) -> list[Opening]:
    """The openings a waiting candidate's next proposal may take a seat on, best first, on day `on`: the one
    whose host chose them while it still suits them (they wait for a seat there), else those automatic
    matching ranks (docs/domain.md, 'The lifecycle' 3 and 5)."""
    if state.wishes is None or state.nationality is None:
        return []
    rules = (state.wishes, state.nationality, state.excluded, on, state.limits)
    chosen = [o for o in openings if o.opening_id == state.agreed and not mismatches(o, *rules)]
    applied = {a.opening_id for a in state.applied}
    return chosen or sorted(ranked(openings, *rules), key=lambda o: o.opening_id not in applied)


def suggestions(state: Candidate, openings: list[Opening], on: dt.date) -> list[Opening]:
    """The openings whose host selects that matching suggests a waiting candidate for on day `on`
    (docs/domain.md, 'The lifecycle' 5: matching only suggests; the host and the agency choose): those the
    volunteer could apply to (`offer_problems`) and is not on the shortlist of yet, earliest start first,
    as many as the candidate may still be suggested for (`MAX_SUGGESTED`)."""
    if waiting_since(state) is None:
        return []
    listed = {a.opening_id for a in state.applied}
    left = MAX_SUGGESTED - _suggested(state)
    fitting = [
        o
        for o in openings
        if o.selected_by_host and o.opening_id not in listed and not _unsuited(state, o, on)
    ]
    return sorted(fitting, key=lambda o: (o.start_date, o.opening_id))[: max(left, 0)]


def suggestion_stands(state: Candidate | None, event: OfferSuggested, listing: Listing | None) -> bool:
    """Whether the suggestion would put the candidate on the opening's shortlist now: one that does not is
    not applied (so not recorded as applied: it may be made again once it stands)."""
    on = state is not None and any(a.opening_id == event.opening_id for a in state.applied)
    return not on and not offer_problems(state, event, listing)


def _suggested(state: Candidate) -> int:
    return sum(a.suggested for a in state.applied)


def offer_suggested(cause: Event, state: Candidate, opening: Opening) -> OfferSuggested:
    """The suggestion of `opening` to the candidate, made while handling `cause`: its id derives from the
    candidate's seed and the opening, so a redelivery of `cause` that suggests again makes the same fact."""
    digest = hashlib.sha256(f"{state.seed}|{state.application_id}|{opening.opening_id}".encode()).hexdigest()
    return OfferSuggested(
        subject_id=state.volunteer_id, producer=SUGGESTER, event_id=f"sg-{digest[:24]}",
        occurred_at=cause.occurred_at, correlation_id=cause.correlation_id or cause.event_id,
        causation_id=cause.event_id, application_id=state.application_id, opening_id=opening.opening_id,
    )  # fmt: skip


def seat_reserved(cause: Event, state: Candidate, placement: Placement) -> SeatReserved:
    """The reservation of `placement`'s seat for the candidate's next proposal, made while handling `cause`:
    its id is the proposal's, so a redelivery of `cause` that reserves again makes the same fact."""
    return SeatReserved(
        subject_id=state.volunteer_id,
        producer=PRODUCER,
        event_id=f"{placement.placement_id}.seat",
        occurred_at=cause.occurred_at,
        correlation_id=cause.correlation_id or cause.event_id,
        causation_id=cause.event_id,
        application_id=state.application_id,
        placement=placement,
    )


def choice_unseated(
    choice: CandidateSelected | ChoiceApproved, state: Candidate | None, reason: str
) -> ChoiceUnseated | None:
    """The refusal of `choice` for want of a seat (`reason`), if the host and the agency still agree on the
    candidate for that opening; None when there is no agreed choice to refuse (one waiting for the other
    chooser's is no failure)."""
    if state is None or state.agreed != choice.opening_id:
        return None
    return ChoiceUnseated(
        **caused_by(choice, PRODUCER), event_id=f"{choice.identity}.unseated", occurred_at=choice.occurred_at,
        choice=choice, reason=reason,
    )  # fmt: skip


def selection_problems(
    state: Candidate | None, event: CandidateSelected | ChoiceApproved, listing: Listing | None
) -> list[str]:
    """Why the host's choice of this candidate for the listed opening, or the agency's, cannot stand
    (docs/domain.md, 'The lifecycle' 5): the candidate must be waiting for a seat, and the opening one that
    may be offered, whose host selects (and is the chooser, for the host's choice), whose publication period
    is over and which suits the candidate by every matching rule."""
    status = state.status if state else Status.NEW
    if state is None or status is not Status.AWAITING or state.wishes is None or state.nationality is None:
        return [f"a {status.value} candidate cannot be selected"]
    if (problem := hosting_problem(listing)) is not None:
        return [problem]
    assert listing is not None and listing.opening is not None
    opening = listing.opening
    stranger = not_the_host(event.producer, opening.host_organisation)
    if isinstance(event, CandidateSelected) and stranger is not None:
        return [stranger]
    if not opening.selected_by_host:
        return ["the opening's host does not select its candidates: the first suitable one is proposed"]
    on = _day(event)
    return mismatches(opening, state.wishes, state.nationality, state.excluded, on, state.limits)


def offer_problems(
    state: Candidate | None, event: OfferApplied | OfferSuggested, listing: Listing | None
) -> list[str]:
    """Why the volunteer cannot apply to the offer (docs/domain.md, 'The lifecycle' 5): the candidate must
    be known and not yet proposed, and the offer one that may be offered, not started yet, and suiting them
    by every matching rule but its publication period, which is when candidates apply."""
    status = state.status if state else Status.NEW
    if state is None or status not in APPLYING or state.wishes is None or state.nationality is None:
        return [f"a {status.value} candidate cannot apply to an offer"]
    if (problem := hosting_problem(listing)) is not None:
        return [problem]
    assert listing is not None and listing.opening is not None
    if isinstance(event, OfferSuggested) and _suggested(state) >= MAX_SUGGESTED:
        return [TOO_MANY_SUGGESTED]
    if isinstance(event, OfferApplied) and sum(a.by_volunteer for a in state.applied) >= MAX_OFFERS_APPLIED:
        return [TOO_MANY_OFFERS]
    return _unsuited(state, listing.opening, _day(event))


def _unsuited(state: Candidate, opening: Opening, on: dt.date) -> list[str]:
    """Why the known candidate cannot apply to the offer on day `on`: it has started, or it does not suit
    them by every matching rule but its publication period, which is when candidates apply."""
    assert state.wishes is not None and state.nationality is not None
    if opening.start_date <= on:
        return ["the offer has started: it takes no more applications"]
    published = max(on, opening.published_on + dt.timedelta(days=MIN_PUBLISHED_DAYS))
    return mismatches(opening, state.wishes, state.nationality, state.excluded, published, state.limits)


def apply_to_offer(
    state: Candidate | None,
    event: OfferApplied | OfferSuggested,
    listing: Listing | None,
    volunteer_ref: str | None,
    key_version: int,
) -> Decision:
    """Record the volunteer's application to the offer, or matching's suggestion of it (`OfferSuggested`);
    with `volunteer_ref` (the volunteer's reference for a host whose applicants go on its shortlist,
    `notices.on_shortlist`, made with key `key_version`), the host finds them on its shortlist under it.
    Refuse the application with the reasons it cannot stand (a suggestion that no longer stands is
    dropped); applying twice changes nothing, and applying to an offer suggested makes it the volunteer's
    own (no second shortlist entry). One that comes before the application (the portal sends both at once,
    on two topics) is kept until the application is received, then applied (`deferred_offers`)."""
    suggested = isinstance(event, OfferSuggested)
    listed = next((a for a in state.applied if a.opening_id == event.opening_id), None) if state else None
    if state is not None and listed is not None:
        if suggested or listed.by_volunteer:
            return _undeferred(state, event), []
        if problems := offer_problems(state, event, listing):  # as any application: then their own too
            return _undeferred(state, event), [refusal(event, PRODUCER, state.status, "; ".join(problems))]
        own = tuple(replace(a, by_volunteer=True) if a is listed else a for a in state.applied)
        applied = CandidateApplied(
            **_envelope(event, state), application_id=state.application_id, opening_id=event.opening_id
        )
        return replace(_undeferred(state, event), applied=own), [applied]
    if isinstance(event, OfferApplied) and (state is None or state.status in UNKNOWN_APPLICATION):
        return _defer(state, event)  # its wishes are not known yet
    problems = offer_problems(state, event, listing)
    if problems or state is None or listing is None or listing.opening is None:
        refused: list[Event] = [refusal(event, PRODUCER, _status(state), "; ".join(problems))]
        return (_undeferred(state, event) if state else state), [] if suggested else refused
    state = _undeferred(state, event)
    opening, envelope = listing.opening, _envelope(event, state)
    entry = Applied(
        opening_id=opening.opening_id, host_organisation=opening.host_organisation,
        volunteer_ref=volunteer_ref, key_version=key_version, suggested=suggested, by_volunteer=not suggested,
    )  # fmt: skip
    kind = CandidateSuggested if suggested else CandidateApplied
    news = [kind(**envelope, application_id=state.application_id, opening_id=opening.opening_id)]
    return replace(state, applied=(*state.applied, entry)), [*news, *notices.shortlisted(envelope, entry)]


def _defer(state: Candidate | None, event: OfferApplied) -> Decision:
    """Keep an offer applied to before the application arrived (once per offer, as many as may be applied
    to). A candidate it is the first fact of has no seed yet: the first fact of an Envol service gives it."""
    base = state or replace(_new(event, event.application_id), seed="")
    if any(d.opening_id == event.opening_id for d in base.deferred):
        return state, []
    if len(base.deferred) >= MAX_OFFERS_APPLIED:
        return state, [refusal(event, PRODUCER, base.status, TOO_MANY_OFFERS)]
    return replace(base, deferred=(*base.deferred, event)), []


def _undeferred(state: Candidate, event: OfferApplied | OfferSuggested) -> Candidate:
    """The candidate without the kept offer `event` applies again (`deferred_offers`)."""
    kept = tuple(d for d in state.deferred if d.opening_id != event.opening_id)
    return replace(state, deferred=kept) if kept != state.deferred else state


def deferred_offers(state: Candidate | None) -> list[OfferApplied]:
    """The offers kept until the application was received, to apply now that it is (or to refuse, if the
    candidate was proposed a seat meanwhile): each the portal's own fact, with its id (what comes back names
    it), recognised as applied under a sender of its own (`KEPT`), so the copy applied when it was kept is
    not mistaken for it."""
    if state is None or state.status in UNKNOWN_APPLICATION:
        return []
    return [replace(d, producer=KEPT) for d in state.deferred]


def proposal_answered(answer: ProposalAnswered, state: Candidate) -> PlacementAnswered:
    """The host's answer by placement id, as its answer to the candidate's proposal: the same sender, id
    and moment, about the candidate's volunteer (so it is applied once, like the answer it stands for)."""
    return PlacementAnswered(
        subject_id=state.volunteer_id, producer=answer.producer, event_id=answer.event_id,
        occurred_at=answer.occurred_at, correlation_id=answer.correlation_id,
        causation_id=answer.causation_id, application_id=state.application_id,
        placement_id=answer.placement_id, party=Party.HOST, accepted=answer.accepted,
    )  # fmt: skip


def applicant_selected(choice: ApplicantSelected, state: Candidate) -> CandidateSelected:
    """The host's choice of an applicant by reference, as the choice of the candidate it names: the same
    sender, id and moment, about the candidate's volunteer."""
    return CandidateSelected(
        subject_id=state.volunteer_id, producer=choice.producer, event_id=choice.event_id,
        occurred_at=choice.occurred_at, correlation_id=choice.correlation_id,
        causation_id=choice.causation_id, application_id=state.application_id, opening_id=choice.opening_id,
    )  # fmt: skip


def select(
    state: Candidate | None, event: CandidateSelected | ChoiceApproved, listing: Listing | None
) -> Decision:
    """Note the host's choice (`CandidateSelected`) or the agency's (`ChoiceApproved`): once both chose the
    candidate for the opening, they wait for a seat of it (the handlers reserve one); refuse a choice with
    the reasons it cannot stand. A chooser who chooses another opening replaces their earlier choice."""
    problems = selection_problems(state, event, listing)
    if problems or state is None:
        status = state.status if state else Status.NEW
        return state, [refusal(event, PRODUCER, status, "; ".join(problems))]
    if isinstance(event, CandidateSelected):
        by, noted = Chooser.HOST, replace(state, chosen=event.opening_id)
    else:
        by, noted = Chooser.AGENCY, replace(state, approved=event.opening_id)
    news = CandidateChosen(
        **_envelope(event, state), application_id=state.application_id, opening_id=event.opening_id, by=by,
        agreed=noted.agreed == event.opening_id,
    )  # fmt: skip
    return noted, [news]


def decide(state: Candidate | None, event: Event) -> Decision:
    """Return the new state and the events `event` causes."""
    status = state.status if state else Status.NEW
    try:
        if isinstance(event, ErasureCompleted):
            return _erase(state, event)
        if isinstance(event, ApplicationReceived):
            return _received(state, event)
        if isinstance(event, VettingCleared):
            return _cleared(state, event)
        if isinstance(event, SeatReserved):
            return _propose(state, event)
        if isinstance(event, ChoiceUnseated):
            return _unseated(state, event)
        if isinstance(event, PlacementAnswered):
            return _answered(state, event)
        if isinstance(event, VettingRefused | ApplicationWithdrawn | DepartureCancelled):
            return _close(state, event)
        if isinstance(event, VolunteerDeparted):
            return _travelled(state, event, Status.DEPARTED, PlacementStatus.DEPARTED)
        if isinstance(event, ArrivalConfirmed):
            return _travelled(state, event, Status.ARRIVED, PlacementStatus.ARRIVED)
        if isinstance(event, MissionEnded):
            return _mission_ended(state, event)
        if isinstance(event, MissionExtended | MissionEndingEarly):
            return _mission_changed(state, event)
    except TransitionError as error:
        return state, [refusal(event, PRODUCER, status, str(error))]
    return state, []  # not a fact placement acts on


def _erase(state: Candidate | None, event: ErasureCompleted) -> Decision:
    """Erased upstream: a tombstone that keeps only what releases the candidate's seats and its claim on
    the volunteer (ids, seed, attempts: no personal data), and each partner told to forget its reference
    (the placement's host, and the host of each shortlist they were on)."""
    news: list[Event] = [erasure_completed(event, PRODUCER)]
    if state is None:
        return erased(), news
    if state.placement is not None:
        news.append(notices.erasure(caused_by(event, PRODUCER), state.placement))
    for applied in state.applied:
        news += notices.shortlist_erased(caused_by(event, PRODUCER), applied)
    kept = replace(
        state,
        status=Status.CLOSED,
        excluded=(),
        placement=None,
        chosen=None,
        approved=None,
        applied=(),
        deferred=(),
        **FORGOTTEN_WHEN_CLOSED,
    )
    return erased(kept), news


def _received(state: Candidate | None, event: ApplicationReceived) -> Decision:
    base = _seeded(state, event)
    if base.status is Status.CLOSED:
        return state, []  # closed before the application arrived (vetting refused first): nothing to do
    if base.wishes is not None:
        raise TransitionError("the application is already known")
    target = Status.AWAITING_CLEARANCE if base.status is Status.NEW else Status.AWAITING
    volunteer = event.volunteer
    theirs = tuple(d for d in base.deferred if d.subject_id == volunteer.volunteer_id)
    strays: list[Event] = [  # offers kept under another volunteer's id: not this application's to apply
        refusal(d, PRODUCER, base.status, "the offer's volunteer is not the application's")
        for d in base.deferred
        if d not in theirs
    ]
    known = replace(
        base,
        status=MACHINE.to(base.status, target),
        volunteer_id=volunteer.volunteer_id,
        nationality=volunteer.nationality,
        wishes=event.wishes,
        deferred=theirs,
    )
    return _wait(known, event, strays) if target is Status.AWAITING else (known, strays)


def _cleared(state: Candidate | None, event: VettingCleared) -> Decision:
    base = _seeded(state, event)
    if base.cleared_at is not None:
        raise TransitionError("the candidate is already cleared")
    target = Status.AWAITING_APPLICATION if base.status is Status.NEW else Status.AWAITING
    cleared = replace(
        base, status=MACHINE.to(base.status, target), cleared_at=event.occurred_at, limits=event.limits
    )
    return _wait(cleared, event, []) if target is Status.AWAITING else (cleared, [])


def _answered(state: Candidate | None, event: PlacementAnswered) -> Decision:
    status = state.status if state else Status.NEW
    if state is None or state.placement is None or status is not Status.PROPOSED:
        raise TransitionError(f"a {status.value} candidate has no proposal to answer")
    placement = state.placement
    if event.placement_id != placement.placement_id:
        raise TransitionError("the answer is not for the current proposal")
    if event.party is Party.HOST and (
        stranger := not_the_host(event.producer, placement.opening.host_organisation)
    ):
        raise TransitionError(stranger)
    if not event.accepted:
        reason = DECLINED[event.party]
        cancelled = notices.cancelled(_envelope(event, state), state.application_id, placement, reason)
        excluded = (*state.excluded, placement.opening.opening_id)
        waiting = replace(
            state,
            status=MACHINE.to(status, Status.AWAITING),
            placement=None,
            excluded=excluded,
            chosen=None,
            approved=None,
        )
        return _wait(waiting, event, cancelled)
    accepted = replace(placement, accepted_by=tuple(sorted({*placement.accepted_by, event.party})))
    if set(accepted.accepted_by) != set(Party):
        return replace(state, placement=accepted), []
    confirmed = replace(state, status=MACHINE.to(status, Status.CONFIRMED), placement=accepted)
    max_months = state.limits.max_months if state.limits else None
    envelope = _envelope(event, state)
    news = notices.confirmed(envelope, state.application_id, accepted, max_months)
    return confirmed, [*news, *_off_shortlists(state, envelope, but=accepted.opening.opening_id)]


def _close(
    state: Candidate | None, event: VettingRefused | ApplicationWithdrawn | DepartureCancelled
) -> Decision:
    status = state.status if state else Status.NEW
    if status is Status.CLOSED:
        return state, []  # closing again changes nothing: compensation is idempotent
    if isinstance(event, VettingRefused):
        reason = ReasonCode.VETTING_REFUSED
    elif isinstance(event, ApplicationWithdrawn):
        reason = ReasonCode.VOLUNTEER_WITHDREW
    else:
        if state is None or state.placement is None or status is not Status.CONFIRMED:
            raise TransitionError(f"a {status.value} candidate has no confirmed placement to cancel")
        if event.placement_id != state.placement.placement_id:
            raise TransitionError("the departure is not for the current placement")
        reason = ReasonCode.DEPARTURE_CANCELLED  # why (a visa, a medical) stays on departure's topic
    base = _seeded(state, event)
    envelope, application_id = _envelope(event, base), base.application_id
    events = notices.cancelled(envelope, application_id, base.placement, reason) if base.placement else []
    unapplied = [refusal(d, PRODUCER, status, "the application closed before the offer was applied")
                 for d in base.deferred]  # fmt: skip
    if status is not Status.CONFIRMED:  # a confirmed candidate left its other shortlists when confirmed
        proposed_on = base.placement.opening.opening_id if base.placement else None  # its updates tell it
        events += _off_shortlists(base, envelope, but=proposed_on)
    closed = replace(
        base, status=MACHINE.to(status, Status.CLOSED), placement=None, deferred=(), **FORGOTTEN_WHEN_CLOSED
    )
    return closed, [*unapplied, *events, *notices.closed(envelope, application_id, reason)]


def _off_shortlists(state: Candidate, envelope: notices.Envelope, but: str | None = None) -> list[Event]:
    """The notices to the hosts of the shortlists the candidate is on that they can no longer choose them:
    the candidate closed or was confirmed elsewhere. Not to the host of the opening `but` names, where
    they hold a placement, whose updates tell it (`cancelled`, or the confirmation). The entries stay, for
    an erasure to tell those hosts to forget the reference."""
    left = [a for a in state.applied if a.opening_id != but]
    return [news for applied in left for news in notices.shortlist_left(envelope, applied)]


def _travelled(
    state: Candidate | None,
    event: VolunteerDeparted | ArrivalConfirmed,
    target: Status,
    update: PlacementStatus,
) -> Decision:
    status = MACHINE.to(state.status if state else Status.NEW, target)
    if state is None or state.placement is None or event.placement_id != state.placement.placement_id:
        raise TransitionError("the fact is not for the current placement")
    return replace(state, status=status), [notices.update(_envelope(event, state), state.placement, update)]


def _mission_ended(state: Candidate | None, event: MissionEnded) -> Decision:
    """The mission is over: the candidate ends and its seat goes back to the opening (docs/domain.md,
    'The lifecycle' 6); the host learns its last day, never why it ended early."""
    status = state.status if state else Status.NEW
    placement = _arrived_placement(state, event)
    assert state is not None
    ended = replace(state, status=MACHINE.to(status, Status.ENDED), **FORGOTTEN_WHEN_CLOSED)
    return ended, [notices.mission(_envelope(event, state), placement, MissionStage.ENDED, event.last_day)]


def _mission_changed(state: Candidate | None, event: MissionExtended | MissionEndingEarly) -> Decision:
    """An arrived placement's mission now ends on another day: extended, or ending early (when, not why).
    The candidate's state does not change: its seat is held until the mission ends."""
    placement = _arrived_placement(state, event)
    assert state is not None
    if isinstance(event, MissionExtended):
        stage, on = MissionStage.EXTENDED, event.end_date
    else:
        stage, on = MissionStage.ENDING_EARLY, event.last_day
    return state, [notices.mission(_envelope(event, state), placement, stage, on)]


def _arrived_placement(
    state: Candidate | None, event: MissionEnded | MissionExtended | MissionEndingEarly
) -> Placement:
    """The placement a fact of its mission is about: the arrived candidate's current one."""
    status = state.status if state else Status.NEW
    if state is None or state.placement is None or event.placement_id != state.placement.placement_id:
        raise TransitionError("the fact is not for the current placement")
    if status is not Status.ARRIVED:
        raise TransitionError(f"a {status.value} candidate has no mission under way")
    return state.placement


def _wait(state: Candidate, cause: Event, events: list[Event]) -> Decision:
    """The candidate now waits for a seat (the handlers look for one next)."""
    return state, [*events, *notices.awaited(_envelope(cause, state), state.application_id)]


def _propose(state: Candidate | None, reserved: SeatReserved) -> Decision:
    """Propose the seat reserved for the candidate's next proposal to the volunteer and the host."""
    status = state.status if state else Status.NEW
    if state is None or reserved.placement.placement_id != next_placement_id(state):
        raise TransitionError(f"the seat is not reserved for the {status.value} candidate's next proposal")
    placement = replace(reserved.placement, accepted_by=())
    proposed = replace(
        state, status=MACHINE.to(status, Status.PROPOSED), attempts=state.attempts + 1, placement=placement,
        chosen=None, approved=None,
    )  # fmt: skip
    return proposed, notices.proposed(_envelope(reserved, state), state.application_id, placement)


def _unseated(state: Candidate | None, event: ChoiceUnseated) -> Decision:
    """The choice is refused for want of a seat: the candidate waits as before either chose them. A host
    that chose them on its shortlist learns, on its own topic, that its choice is void, whichever of the two
    choices came second (only that one's sender is refused)."""
    if state is None or state.agreed != event.choice.opening_id:
        return state, []
    unchosen = replace(state, chosen=None, approved=None)
    listed = [a for a in state.applied if a.opening_id == event.choice.opening_id]
    void = [news for a in listed for news in notices.choice_void(_envelope(event, state), a)]
    return unchosen, [refusal(event.choice, PRODUCER, state.status, event.reason), *void]


def _seeded(state: Candidate | None, first: Event) -> Candidate:
    """The candidate, new if need be, seeded by `first`, an Envol service's fact, if it has no seed yet
    (made by an offer kept before its application: its placement ids still derive from an Envol id)."""
    if state is None:
        return _new(first, first.application_id)  # type: ignore[attr-defined]
    if state.status is Status.NEW and not state.seed:
        return replace(state, seed=first.event_id, volunteer_id=first.subject_id)
    return state


def _new(first: Event, application_id: str) -> Candidate:
    """The candidate before its first fact, seeded by that fact's id."""
    return Candidate(
        status=Status.NEW, application_id=application_id, volunteer_id=first.subject_id, seed=first.event_id
    )


def _envelope(cause: Event, state: Candidate) -> notices.Envelope:
    """Envelope of a candidate's event: caused by `cause` (by the fact a reservation or a suggestion was
    made for, as neither is ever published), keyed by the candidate's volunteer."""
    envelope = {**caused_by(cause, PRODUCER), "subject_id": state.volunteer_id}
    if isinstance(cause, SeatReserved | OfferSuggested):  # its correlation is its cause's already
        envelope["causation_id"] = cause.causation_id
    return envelope


def _status(state: Candidate | None) -> Status:
    return state.status if state else Status.NEW


def _day(event: Event) -> dt.date:
    return event.occurred_at.date()
