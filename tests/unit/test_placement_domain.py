"""The candidate state machine row by row, the matching rules, and which seat holds are stale."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec
import pytest

from services.placement.domain import (
    MAX_SUGGESTED,
    Candidate,
    Status,
    apply_to_offer,
    decide,
    next_placement_id,
    offer_suggested,
    placement_id_of,
    seat_reserved,
    seat_search,
    select,
    suggestion_stands,
    suggestions,
)
from services.placement.matching import add_months, end_date, mismatches, ranked
from services.placement.notices import Applied, Placement
from services.placement.openings import Listing, approve, hosting_problem, offered, register, resolve_answer
from services.placement.seating import Hold, claims_unused_through, seats_may_have_changed, stale
from shared import samples
from shared.aggregates import APPLIED_WINDOW
from shared.contracts.application import (
    ApplicationReceived,
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationWithdrawn,
)
from shared.contracts.departure import (
    ArrivalConfirmed,
    ChecklistOpened,
    DepartureCancelled,
    VolunteerDeparted,
)
from shared.contracts.envelope import Event
from shared.contracts.partner import PERSONAL_FIELDS, PlacementStatus, PlacementUpdated
from shared.contracts.placement import Party
from shared.contracts.reasons import ReasonCode as R
from shared.contracts.reasons import check_failed
from shared.contracts.types import Scheme
from shared.contracts.vetting import Check, MissionLimits, VettingCleared, VettingRefused

AT = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)  # 64 days after the sample opening's publication
SUBMITTED = samples.submitted()


def pid(attempt: int) -> str:
    """The id of app-1's `attempt`-th proposal, for a candidate built by `candidate` (no seed)."""
    return placement_id_of(
        Candidate(status=Status.NEW, application_id="app-1", volunteer_id="vol-1"), attempt
    )


P1, P2 = pid(1), pid(2)


def seeded_pid(application_id: str, attempt: int = 1) -> str:
    """The id of a proposal to a candidate created by `received` (its first fact)."""
    seeded = Candidate(
        status=Status.NEW, application_id=application_id, volunteer_id="", seed=f"received-{application_id}"
    )
    return placement_id_of(seeded, attempt)


# Builders of the upstream events placement consumes (samples.py builds only the outside facts).
def received(application: ApplicationSubmitted = SUBMITTED, **overrides: Any) -> ApplicationReceived:
    """The application as the application service tells it; its id is fixed (`received-<application>`), so
    a candidate it creates has placement ids the tests can name (`seeded_pid`)."""
    fields: dict[str, Any] = {
        "event_id": f"received-{application.application_id}",
        "subject_id": application.subject_id,
        "producer": "application",
        "occurred_at": AT,
        "application_id": application.application_id,
        "volunteer": application.volunteer,
        "wishes": application.wishes,
    }
    return ApplicationReceived(**(fields | overrides))


def cleared(application: ApplicationSubmitted = SUBMITTED, at: dt.datetime = AT) -> VettingCleared:
    return VettingCleared(
        subject_id=application.subject_id,
        producer="vetting",
        occurred_at=at,
        application_id=application.application_id,
    )


def refused(application: ApplicationSubmitted = SUBMITTED) -> VettingRefused:
    return VettingRefused(
        subject_id=application.subject_id,
        producer="vetting",
        application_id=application.application_id,
        reasons=(check_failed(Check.BACKGROUND),),
    )


def withdrawn(application: ApplicationSubmitted = SUBMITTED) -> ApplicationWithdrawn:
    return ApplicationWithdrawn(
        subject_id=application.subject_id,
        producer="application",
        application_id=application.application_id,
        reason=R.VOLUNTEER_WITHDREW,
    )


def departure_cancelled(
    application: ApplicationSubmitted = SUBMITTED,
    placement_id: str = P1,
    reason: str = R.VISA_REFUSED,
) -> DepartureCancelled:
    return DepartureCancelled(
        subject_id=application.subject_id,
        producer="departure",
        application_id=application.application_id,
        placement_id=placement_id,
        reason=reason,
    )


def departed(application: ApplicationSubmitted = SUBMITTED, placement_id: str = P1) -> VolunteerDeparted:
    return VolunteerDeparted(
        subject_id=application.subject_id,
        producer="departure",
        application_id=application.application_id,
        placement_id=placement_id,
    )


def arrived(application: ApplicationSubmitted = SUBMITTED, placement_id: str = P1) -> ArrivalConfirmed:
    return ArrivalConfirmed(
        subject_id=application.subject_id,
        producer="departure",
        application_id=application.application_id,
        placement_id=placement_id,
    )


def offer(placement_id: str = P1, **opening: Any) -> Placement:
    return Placement(
        placement_id=placement_id,
        seat_id="open-1#1",
        opening=samples.opening(**opening),
        volunteer_ref="vol-0123456789abcdef",
    )


def candidate(status: Status, **overrides: Any) -> Candidate:
    """A candidate in `status`, with what that status implies (wishes, clearance, a placement)."""
    fields: dict[str, Any] = {"status": status, "application_id": "app-1", "volunteer_id": "vol-1"}
    if status is not Status.AWAITING_APPLICATION:
        fields |= {"nationality": "FR", "wishes": SUBMITTED.wishes}
    if status not in (Status.AWAITING_CLEARANCE, Status.CLOSED):
        fields["cleared_at"] = AT
    if status in (Status.PROPOSED, Status.CONFIRMED, Status.DEPARTED, Status.ARRIVED):
        fields |= {"attempts": 1, "placement": offer()}
    return Candidate(**(fields | overrides))


def types(events: list[Event]) -> list[str]:
    return [event.event_type for event in events]


# Matching rules (docs/domain.md, 'The lifecycle' 3 and 'Programmes').
@pytest.mark.parametrize(
    ("opening", "wishes", "nationality", "reason"),
    [
        ({"scheme": Scheme.VSI}, {}, "FR", "another scheme"),
        ({"country": "FR"}, {}, "PE", "another country"),
        ({"region": "Loreto"}, {}, "FR", "another region"),
        ({"required_skills": ("research",)}, {}, "FR", "missing skills"),
        ({"required_languages": ("qu",)}, {}, "FR", "missing languages"),
        ({"start_date": dt.date(2026, 8, 1)}, {}, "FR", "starts before the volunteer is available"),
        ({"duration_months": 13}, {}, "FR", "ends after the volunteer is available"),
        ({}, {}, "PE", "nationals are not eligible in their own country"),
        ({"published_on": dt.date(2026, 3, 6)}, {}, "FR", "published less than 15 days ago"),
        ({"required_skills": ("education",)}, {"skills": ("conservation",)}, "FR", "missing skills"),
    ],
)
def test_an_unsuitable_opening_is_not_matched_with_the_reason(
    opening: dict[str, Any], wishes: dict[str, Any], nationality: str, reason: str
) -> None:
    found = mismatches(samples.opening(**opening), samples.wishes(**wishes), nationality, (), AT.date())
    assert found == [reason]


@pytest.mark.parametrize(
    ("opening", "wishes"),
    [
        ({}, {}),
        ({"region": "Loreto"}, {"region": None}),  # no region named: any region of the country
        ({"published_on": dt.date(2026, 3, 5)}, {}),  # exactly 15 days before
        ({"required_skills": (), "required_languages": ()}, {"skills": (), "languages": ("fr",)}),
        (
            {"start_date": dt.date(2026, 9, 1), "duration_months": 12},
            {"available_until": dt.date(2027, 8, 31)},
        ),
    ],
)
def test_a_suitable_opening_has_no_mismatch(opening: dict[str, Any], wishes: dict[str, Any]) -> None:
    assert mismatches(samples.opening(**opening), samples.wishes(**wishes), "FR", (), AT.date()) == []


def test_an_opening_already_declined_is_not_matched_again() -> None:
    assert mismatches(samples.opening(), SUBMITTED.wishes, "FR", ("open-1",), AT.date()) == [
        "already declined or cancelled"
    ]


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (dt.date(2026, 9, 1), 12, dt.date(2027, 8, 31)),
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 27)),  # 31 January + 1 month = 28 February
        (dt.date(2026, 11, 15), 6, dt.date(2027, 5, 14)),
        (dt.date(2026, 9, 1), 0, dt.date(2026, 9, 1)),
    ],
)
def test_a_mission_ends_the_day_before_its_duration_in_calendar_months(
    start: dt.date, months: int, end: dt.date
) -> None:
    assert end_date(samples.opening(start_date=start, duration_months=months)) == end


@pytest.mark.parametrize(
    ("day", "months", "moved"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2026, 11, 15), 3, dt.date(2027, 2, 15)),
        (dt.date(2026, 9, 1), 24, dt.date(2028, 9, 1)),
    ],
)
def test_calendar_months_clamp_to_the_end_of_a_shorter_month(
    day: dt.date, months: int, moved: dt.date
) -> None:
    assert add_months(day, months) == moved


def test_suitable_openings_are_ranked_by_start_date_then_id() -> None:
    openings = [
        samples.opening("open-c", start_date=dt.date(2026, 10, 1), duration_months=6),
        samples.opening("open-b", start_date=dt.date(2026, 9, 1)),
        samples.opening("open-a", start_date=dt.date(2026, 9, 1)),
        samples.opening("open-x", scheme=Scheme.VSI),
    ]
    found = ranked(openings, SUBMITTED.wishes, "FR", (), AT.date())
    assert [o.opening_id for o in found] == ["open-a", "open-b", "open-c"]


# Arrival of the application and of the clearance, in either order.
def test_a_known_application_waits_for_clearance_silently() -> None:
    fact = received()
    state, events = decide(None, fact)
    assert state == candidate(Status.AWAITING_CLEARANCE, seed=fact.event_id)  # its ids derive from that fact
    assert events == []


def test_a_clearance_before_the_application_waits_for_it() -> None:
    state, events = decide(None, cleared())
    assert state is not None and state.status is Status.AWAITING_APPLICATION and state.wishes is None
    assert state.volunteer_id == "vol-1" and state.cleared_at == AT
    assert events == []


@pytest.mark.parametrize("first", ["application", "clearance"])
def test_once_cleared_and_known_without_a_seat_the_candidate_awaits(first: str) -> None:
    facts = [received(), cleared()] if first == "application" else [cleared(), received()]
    state, _ = decide(None, facts[0])
    state, events = decide(state, facts[1])
    assert state == candidate(Status.AWAITING, seed=facts[0].event_id)
    assert types(events) == ["PlacementAwaited"]
    assert events[0].subject_id == "vol-1" and events[0].causation_id == facts[1].event_id


@pytest.mark.parametrize("first", ["application", "clearance"])
def test_a_seat_reserved_for_a_waiting_candidate_proposes_it_caused_by_the_fact_that_made_it_wait(
    first: str,
) -> None:
    facts = [received(), cleared()] if first == "application" else [cleared(), received()]
    state, _ = decide(None, facts[0])
    state, _ = decide(state, facts[1])
    assert state is not None
    first = next_placement_id(state)
    assert first.startswith("pl-") and "app-1" not in first  # opaque: nothing of the portal's id
    reserved = seat_reserved(facts[1], state, offer(first))
    assert reserved.event_id == f"{first}.seat"  # one per proposal: a redelivery reserves the same fact
    state, events = decide(state, reserved)
    assert state == candidate(Status.PROPOSED, seed=facts[0].event_id, placement=offer(first))
    assert types(events) == ["PlacementProposed", "PlacementUpdated"]
    proposed, update = events
    assert proposed.subject_id == "vol-1"
    assert proposed.causation_id == facts[1].event_id  # the reservation itself is never published
    assert proposed.correlation_id == facts[1].event_id
    assert proposed.end_date == dt.date(2027, 8, 31)  # type: ignore[attr-defined]
    assert isinstance(update, PlacementUpdated) and update.status is PlacementStatus.PROPOSED
    assert update.subject_id == update.correlation_id == first and update.causation_id is None
    assert update.volunteer_ref == "vol-0123456789abcdef"


@pytest.mark.parametrize(
    "status", [Status.AWAITING_CLEARANCE, Status.PROPOSED, Status.CONFIRMED, Status.CLOSED]
)
def test_a_seat_reserved_for_a_candidate_who_does_not_wait_is_refused_and_changes_nothing(
    status: Status,
) -> None:
    state = candidate(status)
    new_state, events = decide(state, seat_reserved(cleared(), state, offer(P2)))
    assert new_state == state and types(events) == ["TransitionRefused"]


def test_a_seat_reserved_for_another_proposal_than_the_next_is_refused() -> None:
    state = candidate(Status.AWAITING)
    new_state, events = decide(state, seat_reserved(cleared(), state, offer(P2)))
    assert new_state == state and types(events) == ["TransitionRefused"]
    assert events[0].reason == "the seat is not reserved for the awaiting candidate's next proposal"  # type: ignore[attr-defined]


def test_a_waiting_candidate_seeks_a_seat_on_the_openings_matching_ranks_best_first() -> None:
    state = candidate(Status.AWAITING)
    later = samples.opening("open-later", start_date=dt.date(2026, 10, 1), duration_months=6)
    elsewhere = samples.opening("open-bo", country="BO")
    host_selects = samples.opening("open-chosen", selected_by_host=True)
    found = seat_search(state, [later, elsewhere, host_selects, samples.opening("open-1")], AT.date())
    assert [o.opening_id for o in found] == ["open-1", "open-later"]


def test_matching_suggests_selecting_openings_the_candidate_could_apply_to_earliest_first_up_to_five() -> (
    None
):
    def selecting(n: int, **fields: Any) -> Any:
        start = dt.date(2026, 9, 1) + dt.timedelta(days=n)
        dates = {"start_date": start, "duration_months": 11}  # within the volunteer's availability
        return samples.opening(f"open-{n}", selected_by_host=True, **(dates | fields))

    state = candidate(Status.AWAITING)
    fresh = selecting(1, published_on=AT.date())  # published today: its candidates may be suggested now
    started = selecting(2, start_date=AT.date())  # takes no more applications
    elsewhere = selecting(3, country="BO")
    first_come = samples.opening("open-4")  # its host does not select: matching proposes it, never suggests
    rest = [selecting(n) for n in range(9, 4, -1)]
    openings = [*rest, fresh, started, elsewhere, first_come]
    assert [o.opening_id for o in suggestions(state, openings, AT.date())] == [
        "open-1", "open-5", "open-6", "open-7", "open-8",
    ]  # fmt: skip
    on = (
        Applied(opening_id=f"open-{n}", host_organisation="h", suggested=True, by_volunteer=False)
        for n in (1, 5, 6)
    )
    listed = msgspec.structs.replace(
        state, applied=(*on, Applied(opening_id="open-7", host_organisation="h"))
    )
    assert [o.opening_id for o in suggestions(listed, openings, AT.date())] == ["open-8", "open-9"]
    for status in (Status.AWAITING_CLEARANCE, Status.PROPOSED, Status.CLOSED):
        assert suggestions(candidate(status), openings, AT.date()) == []


def test_a_suggestion_stands_only_while_the_candidate_waits_off_the_shortlist_and_under_the_cap() -> None:
    opening = samples.opening("open-9", selected_by_host=True)
    listing = Listing(opening=opening)
    waiting = candidate(Status.AWAITING)
    suggestion = offer_suggested(cleared(at=AT), waiting, opening)
    assert suggestion_stands(waiting, suggestion, listing)
    suggested, news = apply_to_offer(waiting, suggestion, listing, "vol-0123456789abcdef", 1)
    assert types(news) == ["CandidateSuggested", "CandidateShortlisted"] and suggested is not None
    assert not suggestion_stands(suggested, suggestion, listing)  # on the shortlist already
    assert not suggestion_stands(candidate(Status.PROPOSED), suggestion, listing)  # proposed meanwhile
    full = [
        Applied(opening_id=f"open-{n}", host_organisation="h", suggested=True, by_volunteer=False)
        for n in range(MAX_SUGGESTED)
    ]
    at_cap = msgspec.structs.replace(waiting, applied=tuple(full))
    assert not suggestion_stands(at_cap, suggestion, listing)  # matching ran on an older state: the cap holds
    assert apply_to_offer(at_cap, suggestion, listing, None, 1) == (at_cap, [])
    own = tuple(msgspec.structs.replace(a, by_volunteer=True) for a in full)  # applied to once suggested
    assert not suggestion_stands(msgspec.structs.replace(waiting, applied=own), suggestion, listing)


def test_applying_to_a_suggested_offer_is_checked_as_any_application() -> None:
    opening = samples.opening("open-9", selected_by_host=True)
    listing, entry = (
        Listing(opening=opening),
        Applied(opening_id="open-9", host_organisation="h", suggested=True, by_volunteer=False),
    )
    application = samples.offer_applied(SUBMITTED, "open-9", occurred_at=AT)
    waiting = candidate(Status.AWAITING, applied=(entry,))
    state, news = apply_to_offer(waiting, application, listing, None, 1)
    assert types(news) == ["CandidateApplied"] and state is not None and state.applied[0].by_volunteer
    for late in (
        candidate(Status.PROPOSED, applied=(entry,)),
        msgspec.structs.replace(waiting, applied=(entry,)),  # the offer has started by then
    ):
        on = AT if late.status is Status.PROPOSED else dt.datetime(2026, 9, 2, tzinfo=dt.UTC)
        _, refusals = apply_to_offer(
            late, msgspec.structs.replace(application, occurred_at=on), listing, None, 1
        )
        assert types(refusals) == ["TransitionRefused"]


def test_an_opening_keeps_its_hosts_latest_answers_by_placement_id_not_every_one() -> None:
    opening = samples.opening(host_organisation="Neotropical Primate Conservation")
    listing: Listing | None = Listing(opening=opening)
    answers = [samples.proposal_answered(opening, seeded_pid("app-1")) for _ in range(APPLIED_WINDOW + 50)]
    for answer in answers:
        listing, refusals = resolve_answer(listing, answer, "app-1")
        assert refusals == []
    assert listing is not None and len(listing.answers) == APPLIED_WINDOW
    assert listing.answered_by(answers[-1]) == "app-1" and listing.answered_by(answers[0]) is None


def test_a_candidate_the_host_and_the_agency_chose_seeks_a_seat_only_there_while_the_opening_suits_them() -> (
    None
):
    chosen = samples.opening("open-chosen", selected_by_host=True)
    state = candidate(Status.AWAITING, chosen="open-chosen", approved="open-chosen")
    openings = [samples.opening("open-1"), chosen]
    assert [o.opening_id for o in seat_search(state, openings, AT.date())] == ["open-chosen"]
    too_soon = chosen.published_on  # it would not suit them yet: matching takes over
    assert [o.opening_id for o in seat_search(state, openings, too_soon)] == []
    assert [o.opening_id for o in seat_search(state, openings[:1], AT.date())] == ["open-1"]
    for half in ({"chosen": "open-chosen"}, {"approved": "open-chosen"}):  # one chooser alone: no seat there
        alone = candidate(Status.AWAITING, **half)
        assert [o.opening_id for o in seat_search(alone, openings, AT.date())] == ["open-1"]


@pytest.mark.parametrize("host_first", [True, False])
def test_a_choice_is_agreed_once_the_host_and_the_agency_chose_the_candidate_in_either_order(
    host_first: bool,
) -> None:
    listing = Listing(opening=samples.opening("open-chosen", selected_by_host=True))
    host = samples.selected(SUBMITTED, "open-chosen", occurred_at=AT)
    agency = samples.choice_approved(SUBMITTED, "open-chosen", occurred_at=AT)
    first, second = (host, agency) if host_first else (agency, host)
    state, news = select(candidate(Status.AWAITING), first, listing)
    assert state is not None and state.agreed is None
    assert [(e.by, e.agreed) for e in news] == [("host" if host_first else "agency", False)]  # type: ignore[attr-defined]
    state, news = select(state, second, listing)
    assert state is not None and state.agreed == "open-chosen"
    assert [(e.by, e.agreed) for e in news] == [("agency" if host_first else "host", True)]  # type: ignore[attr-defined]
    proposed, _ = decide(state, seat_reserved(second, state, offer(P1, opening_id="open-chosen")))
    assert proposed is not None and proposed.status is Status.PROPOSED
    assert (proposed.chosen, proposed.approved) == (None, None)


def test_the_agency_and_the_host_choosing_different_openings_agree_on_none() -> None:
    listing = Listing(opening=samples.opening("open-a", selected_by_host=True))
    other = Listing(opening=samples.opening("open-b", selected_by_host=True))
    state, _ = select(
        candidate(Status.AWAITING), samples.selected(SUBMITTED, "open-a", occurred_at=AT), listing
    )
    state, news = select(state, samples.choice_approved(SUBMITTED, "open-b", occurred_at=AT), other)
    assert state is not None and state.agreed is None and [e.agreed for e in news] == [False]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("state", "event", "reason"),
    [
        (candidate(Status.AWAITING), received(), "the application is already known"),
        (candidate(Status.AWAITING_APPLICATION), cleared(), "the candidate is already cleared"),
        (candidate(Status.PROPOSED), cleared(), "the candidate is already cleared"),
        (candidate(Status.CLOSED), cleared(), "a closed candidate cannot become awaiting"),
    ],
)
def test_a_repeated_or_late_fact_is_refused_and_changes_nothing(
    state: Candidate, event: Event, reason: str
) -> None:
    new_state, events = decide(state, event)
    assert new_state == state
    assert types(events) == ["TransitionRefused"]
    assert events[0].reason == reason  # type: ignore[attr-defined]


def test_an_application_after_a_refused_vetting_changes_nothing() -> None:
    state, _ = decide(None, refused())
    assert decide(state, received()) == (state, [])


# Answers.
def test_one_acceptance_waits_for_the_other_party_silently() -> None:
    state, events = decide(candidate(Status.PROPOSED), samples.answer(SUBMITTED, P1, Party.HOST))
    assert state is not None and state.status is Status.PROPOSED
    assert state.placement is not None and state.placement.accepted_by == (Party.HOST,)
    assert events == []


def test_both_acceptances_confirm_the_placement() -> None:
    state: Candidate | None = candidate(Status.PROPOSED)
    for party in (Party.VOLUNTEER, Party.HOST):
        state, events = decide(state, samples.answer(SUBMITTED, P1, party))
    assert state is not None and state.status is Status.CONFIRMED
    assert types(events) == ["PlacementConfirmed", "PlacementUpdated"]
    assert events[1].status is PlacementStatus.CONFIRMED  # type: ignore[attr-defined]


@pytest.mark.parametrize("party", list(Party))
def test_a_decline_cancels_the_placement_and_the_candidate_awaits_another(party: Party) -> None:
    answer = samples.answer(SUBMITTED, P1, party, accepted=False)
    state, events = decide(candidate(Status.PROPOSED), answer)
    assert state == candidate(Status.AWAITING, attempts=1, excluded=("open-1",))
    assert types(events) == ["PlacementCancelled", "PlacementUpdated", "PlacementAwaited"]
    assert events[0].reason == f"declined-by-{party.value}"  # type: ignore[attr-defined]
    assert events[1].status is PlacementStatus.CANCELLED  # type: ignore[attr-defined]


def test_after_a_decline_the_next_seat_reserved_is_the_second_proposal() -> None:
    answer = samples.answer(SUBMITTED, P1, Party.HOST, accepted=False)
    state, _ = decide(candidate(Status.PROPOSED), answer)
    assert state is not None
    state, events = decide(state, seat_reserved(answer, state, offer(P2, opening_id="open-2")))
    assert state is not None and state.status is Status.PROPOSED and state.attempts == 2
    assert types(events) == ["PlacementProposed", "PlacementUpdated"]
    assert events[0].placement_id == P2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("state", "placement_id", "reason"),
    [
        (candidate(Status.AWAITING), P1, "a awaiting candidate has no proposal to answer"),
        (candidate(Status.CONFIRMED), P1, "a confirmed candidate has no proposal to answer"),
        (candidate(Status.PROPOSED), "app-1.p0", "the answer is not for the current proposal"),
    ],
)
def test_an_answer_without_a_matching_proposal_is_refused(
    state: Candidate, placement_id: str, reason: str
) -> None:
    new_state, events = decide(state, samples.answer(SUBMITTED, placement_id, Party.HOST))
    assert new_state == state
    assert events[0].reason == reason  # type: ignore[attr-defined]


# Closing facts: vetting refused, withdrawal, departure cancelled (the compensation).
CLOSING = [
    (refused(), R.VETTING_REFUSED),
    (withdrawn(), R.VOLUNTEER_WITHDREW),
    (departure_cancelled(), R.DEPARTURE_CANCELLED),  # why departure cancelled stays on its own topic
]


@pytest.mark.parametrize(
    ("status", "fact", "expected"),
    [
        (Status.AWAITING_CLEARANCE, refused(), ["PlacementClosed"]),
        (Status.AWAITING_APPLICATION, refused(), ["PlacementClosed"]),
        (Status.AWAITING, withdrawn(), ["PlacementClosed"]),
        (Status.PROPOSED, withdrawn(), ["PlacementCancelled", "PlacementUpdated", "PlacementClosed"]),
        (Status.PROPOSED, refused(), ["PlacementCancelled", "PlacementUpdated", "PlacementClosed"]),
        (Status.CONFIRMED, withdrawn(), ["PlacementCancelled", "PlacementUpdated", "PlacementClosed"]),
        (
            Status.CONFIRMED,
            departure_cancelled(),
            ["PlacementCancelled", "PlacementUpdated", "PlacementClosed"],
        ),
    ],
)
def test_a_closing_fact_cancels_any_placement_and_closes(
    status: Status, fact: Event, expected: list[str]
) -> None:
    state, events = decide(candidate(status), fact)
    assert state is not None and state.status is Status.CLOSED and state.placement is None
    assert types(events) == expected
    reason = dict((type(f), r) for f, r in CLOSING)[type(fact)]
    assert events[-1].reason == reason  # type: ignore[attr-defined]
    if len(events) > 1:
        assert events[0].reason == reason  # type: ignore[attr-defined]
        assert events[1].status is PlacementStatus.CANCELLED  # type: ignore[attr-defined]


@pytest.mark.parametrize(("fact", "reason"), CLOSING)
def test_a_closing_fact_on_an_unknown_candidate_closes_it(fact: Event, reason: str) -> None:
    if isinstance(fact, DepartureCancelled):
        state, events = decide(None, fact)
        assert state is None and types(events) == ["TransitionRefused"]
        return
    state, events = decide(None, fact)
    assert state is not None and state.status is Status.CLOSED and state.volunteer_id == "vol-1"
    assert types(events) == ["PlacementClosed"] and events[0].reason == reason  # type: ignore[attr-defined]


@pytest.mark.parametrize(("fact", "_"), CLOSING)
def test_a_closing_fact_on_a_closed_candidate_is_ignored_without_refusal(fact: Event, _: str) -> None:
    state = candidate(Status.CLOSED)
    assert decide(state, fact) == (state, [])


@pytest.mark.parametrize(
    ("status", "fact", "reason"),
    [
        (Status.PROPOSED, departure_cancelled(), "a proposed candidate has no confirmed placement to cancel"),
        (Status.AWAITING, departure_cancelled(), "a awaiting candidate has no confirmed placement to cancel"),
        (
            Status.CONFIRMED,
            departure_cancelled(placement_id="app-1.p9"),
            "the departure is not for the current placement",
        ),
        (Status.DEPARTED, withdrawn(), "a departed candidate cannot become closed"),
        (Status.ARRIVED, refused(), "a arrived candidate cannot become closed"),
    ],
)
def test_a_closing_fact_the_state_cannot_take_is_refused(status: Status, fact: Event, reason: str) -> None:
    state = candidate(status)
    new_state, events = decide(state, fact)
    assert new_state == state
    assert types(events) == ["TransitionRefused"] and events[0].reason == reason  # type: ignore[attr-defined]


# Departure and arrival.
def test_departure_and_arrival_update_partners() -> None:
    state, events = decide(candidate(Status.CONFIRMED), departed())
    assert state is not None and state.status is Status.DEPARTED
    assert [e.status for e in events] == [PlacementStatus.DEPARTED]  # type: ignore[attr-defined]
    state, events = decide(state, arrived())
    assert state is not None and state.status is Status.ARRIVED
    assert [e.status for e in events] == [PlacementStatus.ARRIVED]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "fact", "reason"),
    [
        (Status.PROPOSED, departed(), "a proposed candidate cannot become departed"),
        (Status.CONFIRMED, arrived(), "a confirmed candidate cannot become arrived"),
        (
            Status.CONFIRMED,
            departed(placement_id="app-1.p9"),
            "the fact is not for the current placement",
        ),
    ],
)
def test_a_departure_fact_out_of_order_is_refused(status: Status, fact: Event, reason: str) -> None:
    state = candidate(status)
    new_state, events = decide(state, fact)
    assert new_state == state and events[0].reason == reason  # type: ignore[attr-defined]


def test_facts_placement_does_not_act_on_are_ignored() -> None:
    state = candidate(Status.CONFIRMED)
    opened = ChecklistOpened(
        subject_id="vol-1", producer="departure", application_id="app-1", placement_id="p"
    )
    rejected = ApplicationRejected(
        subject_id="vol-1", producer="application", application_id="app-1", reasons=("x",)
    )
    assert decide(state, opened) == (state, [])
    assert decide(state, rejected) == (state, [])


# Proposals made when a seat frees up or an opening is published.
def test_a_freed_seat_is_proposed_to_an_awaiting_candidate_keyed_by_that_candidate() -> None:
    trigger = samples.published(samples.opening())
    state = candidate(Status.AWAITING)
    state, events = decide(state, seat_reserved(trigger, state, offer()))
    assert state is not None and state.status is Status.PROPOSED
    assert [e.subject_id for e in events] == ["vol-1", P1]
    assert events[0].causation_id == trigger.event_id


def test_partner_updates_carry_no_personal_field_and_are_keyed_by_the_placement() -> None:
    state: Candidate | None = candidate(Status.AWAITING_CLEARANCE)
    state, events = decide(state, cleared())
    assert state is not None
    state, more = decide(state, seat_reserved(cleared(), state, offer()))
    events += more
    for party in Party:
        state, more = decide(state, samples.answer(SUBMITTED, P1, party))
        events += more
    state, more = decide(state, departure_cancelled())
    updates = [e for e in [*events, *more] if isinstance(e, PlacementUpdated)]
    assert [u.status for u in updates] == ["proposed", "confirmed", "cancelled"]
    for update in updates:
        assert update.subject_id == update.placement_id == P1
        assert not set(msgspec.structs.asdict(update)) & PERSONAL_FIELDS


# The opening aggregate.
def test_an_opening_is_registered_once() -> None:
    event = samples.published(samples.opening())
    state, events = register(None, event)
    assert state == Listing(opening=event.opening) and types(events) == ["OpeningRegistered"]
    again, events = register(state, samples.published(samples.opening(seats=3)))
    assert again == state
    assert events[0].reason == "the opening is already registered"  # type: ignore[attr-defined]


# Which seat holds a candidate's state proves unused.
def hold(seat: str, attempt: int) -> Hold:
    return Hold(
        seat_id=seat,
        opening_id=seat.split("#")[0],
        application_id="app-1",
        placement_id=pid(attempt),
        attempt=attempt,
    )


@pytest.mark.parametrize(
    ("state", "holds", "released"),
    [
        (candidate(Status.PROPOSED), [hold("open-1#1", 1)], []),  # the current seat
        (candidate(Status.PROPOSED), [hold("open-1#1", 1), hold("open-2#1", 1)], ["open-2#1"]),  # lost race
        (candidate(Status.AWAITING, attempts=1), [hold("open-1#1", 1)], ["open-1#1"]),  # declined
        (candidate(Status.AWAITING, attempts=1), [hold("open-2#1", 2)], []),  # being proposed elsewhere
        (candidate(Status.PROPOSED), [hold("open-2#1", 2)], []),  # a later attempt: not ours to judge
        (
            candidate(Status.CLOSED, attempts=1),
            [hold("open-1#1", 1), hold("open-2#1", 2)],
            ["open-1#1", "open-2#1"],
        ),
        (None, [hold("open-1#1", 1)], []),
    ],
)
def test_stale_holds_are_those_the_state_proves_unused(
    state: Candidate | None, holds: list[Hold], released: list[str]
) -> None:
    assert [h.seat_id for h in stale(state, holds)] == released


@pytest.mark.parametrize(
    ("state", "through"),
    [
        (candidate(Status.AWAITING), 0),  # only a claim from before attempts were noted: the next may be made
        (candidate(Status.PROPOSED), None),  # the claim of the proposal that stands
        (candidate(Status.ARRIVED), None),
        (candidate(Status.AWAITING, attempts=1), 1),  # declined: the first claim is unused, not the second's
        (candidate(Status.AWAITING, attempts=3), 3),
        (candidate(Status.CLOSED), 1),  # closed before any proposal: even a claim being made is unused
        (candidate(Status.CLOSED, attempts=2), 3),
        (candidate(Status.ENDED, attempts=1, placement=offer()), 2),
    ],
)
def test_a_claim_on_the_volunteer_is_unused_once_no_proposal_of_the_candidate_stands(
    state: Candidate, through: int | None
) -> None:
    assert claims_unused_through(state) == through


@pytest.mark.parametrize(
    ("before", "after", "may"),
    [
        (candidate(Status.PROPOSED), candidate(Status.CONFIRMED), False),  # an acceptance: same proposal
        (candidate(Status.DEPARTED), candidate(Status.ARRIVED), False),
        (candidate(Status.AWAITING), candidate(Status.PROPOSED), True),  # a proposal made
        (candidate(Status.PROPOSED), candidate(Status.AWAITING, attempts=1), True),  # a proposal declined
        (candidate(Status.CONFIRMED), candidate(Status.CLOSED, attempts=1), True),  # closed
        (None, candidate(Status.ARRIVED), True),  # a redelivery or another writer: not known
    ],
)
def test_a_seat_may_need_releasing_only_when_a_proposal_or_the_candidate_changed(
    before: Candidate | None, after: Candidate, may: bool
) -> None:
    assert seats_may_have_changed(before, after) is may


def test_a_placement_id_is_opaque_and_differs_per_candidate_and_attempt() -> None:
    named = Candidate(status=Status.NEW, application_id="camille.durand", volunteer_id="camille", seed="e-1")
    ids = [placement_id_of(named, n) for n in (1, 2, 3)]
    ids.append(placement_id_of(msgspec.structs.replace(named, seed="e-2"), 1))  # another candidate's first
    assert len(set(ids)) == 4
    for placement_id in ids:
        assert re.fullmatch(r"pl-[0-9a-f]{24}", placement_id)
        assert "camille" not in placement_id and "durand" not in placement_id
    assert placement_id_of(named, 1) == ids[0]  # the same on every redelivery


@pytest.mark.parametrize("closing", [withdrawn(), refused()], ids=["withdrawn", "vetting refused"])
def test_a_closed_candidate_keeps_no_nationality_wishes_or_clearance(closing: Event) -> None:
    state, _ = decide(candidate(Status.AWAITING), closing)
    assert state is not None and state.status is Status.CLOSED
    assert (state.nationality, state.wishes, state.cleared_at) == (None, None, None)
    assert decide(state, received()) == (state, [])  # a late application brings nothing back


def test_a_french_volunteer_may_take_a_mission_in_france() -> None:
    at_home = samples.opening(country="FR", region="Occitanie")
    wishes = samples.wishes(country="FR", region="Occitanie")
    assert "nationals are not eligible in their own country" not in mismatches(
        at_home, wishes, "FR", (), AT.date()
    )
    assert "nationals are not eligible in their own country" in mismatches(
        samples.opening(), SUBMITTED.wishes, "PE", (), AT.date()
    )


# The scheme's limits on the mission itself (docs/domain.md, rules common to all schemes), from clearance.
CIVIC_25 = MissionLimits(  # born 2000-09-02: 25 until 2026-09-01, the day before their 26th birthday
    earliest_start=dt.date(2018, 9, 2), latest_start=dt.date(2026, 9, 1), min_months=6, max_months=12
)
VSI_60_SERVED = MissionLimits(earliest_start=dt.date(2008, 1, 1), min_months=1, max_months=12)
VSI_NONE_SERVED = MissionLimits(earliest_start=dt.date(2008, 1, 1), min_months=1, max_months=24)
MINOR = MissionLimits(  # born 2010-09-02: 16 on 2026-09-02, a home mission
    earliest_start=dt.date(2026, 9, 2), latest_start=dt.date(2036, 9, 1), min_months=6, max_months=12
)
VSI_WISHES = {"scheme": Scheme.VSI, "available_until": dt.date(2030, 12, 31)}


@pytest.mark.parametrize(
    ("opening", "wishes", "limits", "reasons"),
    [
        ({}, {}, CIVIC_25, []),  # starts on the last day they are 25
        (
            {"start_date": dt.date(2026, 9, 2), "duration_months": 6},
            {},
            CIVIC_25,
            ["starts after the volunteer passes the scheme's maximum age"],
        ),
        ({}, {}, MINOR, ["starts before the volunteer reaches the scheme's minimum age"]),
        ({"start_date": dt.date(2026, 9, 2), "duration_months": 6}, {}, MINOR, []),
        ({"duration_months": 5}, {}, CIVIC_25, ["shorter than the scheme's 6 months"]),
        # 18 months of availability: a 9-month mission is legal, a 13-month one is not
        ({"duration_months": 9}, {"available_until": dt.date(2028, 2, 29)}, CIVIC_25, []),
        (
            {"duration_months": 13},
            {"available_until": dt.date(2028, 2, 29)},
            CIVIC_25,
            ["longer than the scheme allows the volunteer"],
        ),
        ({"scheme": Scheme.VSI, "duration_months": 24}, VSI_WISHES, VSI_NONE_SERVED, []),
        (
            {"scheme": Scheme.VSI, "duration_months": 25},
            VSI_WISHES,
            VSI_NONE_SERVED,
            ["longer than the scheme allows the volunteer"],
        ),
        # 60 months served: 12 more make 72, the lifetime limit; 13 make 73
        ({"scheme": Scheme.VSI, "duration_months": 12}, VSI_WISHES, VSI_60_SERVED, []),
        (
            {"scheme": Scheme.VSI, "duration_months": 13},
            VSI_WISHES,
            VSI_60_SERVED,
            ["longer than the scheme allows the volunteer"],
        ),
        # the screening checks valid until 1 September 2026: a mission may start that day, not the next
        ({}, {}, msgspec.structs.replace(CIVIC_25, checks_valid_until=dt.date(2026, 9, 1)), []),
        (
            {"start_date": dt.date(2026, 9, 2), "duration_months": 6},
            {},
            msgspec.structs.replace(CIVIC_25, latest_start=None, checks_valid_until=dt.date(2026, 9, 1)),
            ["starts after the volunteer's screening checks expire"],
        ),
    ],
    ids=[
        "last-day-at-25", "first-day-at-26", "15-at-home", "16-at-home", "5-months", "9-of-18-months",
        "13-of-18-months", "vsi-24-months", "vsi-25-months", "vsi-72-cumulated", "vsi-73-cumulated",
        "checks-valid-on-the-start", "checks-expired-by-the-start",
    ],
)  # fmt: skip
def test_the_mission_is_checked_against_the_schemes_limits_at_its_own_start_and_length(
    opening: dict[str, Any], wishes: dict[str, Any], limits: MissionLimits, reasons: list[str]
) -> None:
    found = mismatches(samples.opening(**opening), samples.wishes(**wishes), "FR", (), AT.date(), limits)
    assert found == reasons


def test_a_cleared_candidate_is_offered_only_a_mission_its_limits_allow() -> None:
    clearance = msgspec.structs.replace(cleared(), limits=CIVIC_25)
    state, _ = decide(None, clearance)
    state, _ = decide(state, received())
    assert state is not None and state.limits == CIVIC_25
    too_late = samples.opening("open-late", start_date=dt.date(2026, 9, 2), duration_months=6)
    in_time = samples.opening("open-1")
    found = ranked([too_late, in_time], SUBMITTED.wishes, "FR", (), AT.date(), state.limits)
    assert [o.opening_id for o in found] == ["open-1"]


def test_a_closed_candidate_forgets_its_mission_limits() -> None:
    clearance = msgspec.structs.replace(cleared(), limits=CIVIC_25)
    state, _ = decide(None, clearance)
    state, _ = decide(state, withdrawn())
    assert state is not None and state.status is Status.CLOSED and state.limits is None


@pytest.mark.parametrize(
    ("opening", "reason"),
    [
        ({"duration_months": 6}, None),
        ({"duration_months": 5}, "service-civique: a mission of 5 months is outside 6 to 12"),
        ({"duration_months": 13}, "service-civique: a mission of 13 months is outside 6 to 12"),
        ({"hours_per_week": 24}, None),
        ({"hours_per_week": 23}, "service-civique: 23 hours a week is below 24"),
        ({"hours_per_week": None}, "service-civique: the weekly hours are not stated (at least 24)"),
        ({"scheme": Scheme.RECIPROCITY, "country": "FR", "hours_per_week": None},
         "reciprocity: the weekly hours are not stated (at least 24)"),
        ({"scheme": Scheme.RECIPROCITY, "country": "FR", "duration_months": 18},
         "reciprocity: a mission of 18 months is outside 6 to 12"),
        ({"scheme": Scheme.VSI, "duration_months": 24, "hours_per_week": 10}, None),  # no weekly minimum
        ({"scheme": Scheme.VSI, "hours_per_week": None}, None),
        ({"scheme": Scheme.VSI, "duration_months": 25}, "vsi: a mission of 25 months exceeds 24"),
    ],
)  # fmt: skip
def test_an_opening_its_scheme_does_not_allow_is_refused_with_the_reason_and_not_registered(
    opening: dict[str, Any], reason: str | None
) -> None:
    event = samples.published(samples.opening(**opening))
    state, events = register(None, event)
    if reason is None:
        assert state == Listing(opening=event.opening) and [e.event_type for e in events] == [
            "OpeningRegistered"
        ]
    else:
        assert state is None
        [refused] = events
        assert refused.event_type == "TransitionRefused" and refused.reason == reason  # type: ignore[attr-defined]


RECIPROCITY_OPENING = samples.opening(
    "open-paris", scheme=Scheme.RECIPROCITY, country="FR", duration_months=10
)


@pytest.mark.parametrize("approval_first", [False, True])
def test_a_reciprocity_hosting_is_offered_only_once_the_agency_approves_it_whichever_comes_first(
    approval_first: bool,
) -> None:
    published, approval = samples.published(RECIPROCITY_OPENING), samples.approved(RECIPROCITY_OPENING)
    steps = [approval, published] if approval_first else [published, approval]
    state: Listing | None = None
    for step in steps:
        if step is steps[1]:
            assert offered(state) is None
        state, _ = register(state, step) if step is published else approve(state, step)
    assert offered(state) == RECIPROCITY_OPENING
    assert hosting_problem(Listing(opening=RECIPROCITY_OPENING)) == (
        "the agency has not approved this reciprocity hosting yet"
    )
    assert hosting_problem(None) == "the opening is not registered"


def test_only_a_reciprocity_hosting_is_approved_and_an_approval_again_changes_nothing() -> None:
    listing, _ = register(None, samples.published(samples.opening()))
    assert offered(listing) == samples.opening()  # a service civique opening needs no approval
    same, events = approve(listing, samples.approved(samples.opening()))
    assert same == listing and events[0].reason == "only a reciprocity hosting is approved"  # type: ignore[attr-defined]
    approved, _ = approve(None, samples.approved(RECIPROCITY_OPENING))
    assert approve(approved, samples.approved(RECIPROCITY_OPENING)) == (approved, [])
