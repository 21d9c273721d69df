"""The placement handlers on the in-memory store: seats, races, compensation, redelivery, partner privacy."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any

import msgspec
import pytest

from services.departure import rules
from services.departure.domain import MAX_EARLY_REPORTS
from services.departure.domain import Status as DepartureStatus
from services.departure.rules import PASSPORT_TOO_SHORT, Mission
from services.placement.domain import HOLDS_ANOTHER_PLACEMENT, NO_SEAT_FREE, Candidate, Status
from services.placement.handlers import PlacementHandlers
from services.placement.notices import WITHHELD, told_reason
from services.placement.pseudonym import volunteer_ref
from services.placement.seating import Hold
from services.placement.store import InMemoryPlacementStore, InMemorySeats
from shared import samples
from shared.aggregates import Outgoing, Position, Record
from shared.contracts.application import ApplicationRejected, ApplicationSubmitted, TransitionRefused
from shared.contracts.codec import decode
from shared.contracts.departure import (
    ChecklistOpened,
    EarlyEndReason,
    HostReport,
    MissionEnded,
    MissionEndingEarly,
    MissionExtended,
)
from shared.contracts.envelope import Event
from shared.contracts.intake import not_the_host
from shared.contracts.partner import PERSONAL_FIELDS, MissionUpdated
from shared.contracts.partners import PARTNERS, partner_of, topic_of
from shared.contracts.placement import CandidateSelected, Opening, Party
from shared.contracts.reasons import ReasonCode as R
from shared.contracts.reasons import early_end
from shared.contracts.topics import Topic
from shared.contracts.types import Scheme
from shared.memory import InMemoryAggregates
from shared.processing import current_position
from shared.retry import ConcurrentWriteError
from shared.statemachine import refusal
from tests.unit.test_application_handlers import Sent
from tests.unit.test_placement_domain import (
    AT,
    arrived,
    cleared,
    departed,
    departure_cancelled,
    received,
    refused,
    seeded_pid,
    withdrawn,
)

KEY = "test-pseudonym-key"


def make(publish: Any = None) -> tuple[PlacementHandlers, InMemoryPlacementStore, Sent]:
    store, sent = InMemoryPlacementStore(), Sent()
    return PlacementHandlers(store, publish or sent, partial(volunteer_ref, KEY)), store, sent


def person(n: int, **wishes: Any) -> ApplicationSubmitted:
    """Application app-<n> of volunteer vol-<n>."""
    application = samples.submitted(f"app-{n}", volunteer_fields={"volunteer_id": f"vol-{n}"})
    return samples.with_wishes(application, **wishes) if wishes else application


async def clear(handlers: PlacementHandlers, application: ApplicationSubmitted, minutes: int = 0) -> None:
    """The application is received, then vetting clears it `minutes` after AT."""
    await handlers.handle(Topic.APPLICATION_EVENTS, received(application))
    await handlers.handle(Topic.VETTING_EVENTS, cleared(application, AT + dt.timedelta(minutes=minutes)))


async def publish(handlers: PlacementHandlers, opening: Opening) -> None:
    await handlers.handle(Topic.PLACEMENT_INTAKE, samples.published(opening))


def events(sent: Sent, event_type: str | None = None) -> list[Any]:
    found = [decode(item.topic, item.value) for item in sent.items]
    return [e for e in found if event_type is None or e.event_type == event_type]


def proposals(sent: Sent) -> list[tuple[str, str]]:
    return [(e.application_id, e.opening_id) for e in events(sent, "PlacementProposed")]


def answer(application: ApplicationSubmitted, party: Party, accepted: bool = True, attempt: int = 1) -> Event:
    return samples.answer(
        application, seeded_pid(application.application_id, attempt), party, accepted=accepted
    )


async def confirm(handlers: PlacementHandlers, application: ApplicationSubmitted) -> None:
    for party in Party:
        await handlers.handle(Topic.PLACEMENT_INTAKE, answer(application, party))


async def status(store: InMemoryPlacementStore, application_id: str) -> Status:
    state = (await store.candidates.load(application_id)).state
    assert state is not None
    return state.status


def holders(store: InMemoryPlacementStore) -> dict[str, str]:
    return {seat: hold.placement_id for seat, hold in store.seats.seats.items()}


async def test_a_cleared_volunteer_is_proposed_the_opening_and_partners_learn_it_without_personal_data() -> (
    None
):
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    # it waits for a seat once known and cleared, then the seat reserved is proposed
    assert sent.types() == ["OpeningRegistered", "PlacementAwaited", "PlacementProposed", "PlacementUpdated"]
    proposed, update = events(sent)[2:]
    assert proposed.subject_id == "vol-1" and sent.items[2].key == "vol-1"
    assert sent.items[3].topic == Topic.PARTNER_PLACEMENT_UPDATES and sent.items[3].key == seeded_pid("app-1")
    assert update.subject_id == update.placement_id == seeded_pid("app-1")
    host = samples.opening().host_organisation
    assert update.volunteer_ref == volunteer_ref(KEY, host, "vol-1") != "vol-1"
    partner_fields = set(msgspec.json.decode(sent.items[3].value))
    assert partner_fields and not partner_fields & PERSONAL_FIELDS
    assert b'"vol-1"' not in sent.items[3].value
    assert holders(store) == {"open-1#1": seeded_pid("app-1")}
    assert store.seats.volunteers == {"vol-1": ("app-1", 1)}


async def test_a_clearance_before_the_application_waits_for_both_then_proposes() -> None:
    handlers, _, sent = make()
    await publish(handlers, samples.opening())
    await handlers.handle(Topic.VETTING_EVENTS, cleared(person(1)))
    assert proposals(sent) == []
    await handlers.handle(Topic.APPLICATION_EVENTS, received(person(1)))
    assert proposals(sent) == [("app-1", "open-1")]


async def test_a_volunteer_without_a_suitable_opening_awaits_until_one_is_published() -> None:
    handlers, _, sent = make()
    await publish(handlers, samples.opening("open-vsi", scheme=Scheme.VSI))
    await clear(handlers, person(1))
    assert sent.types()[1:] == ["PlacementAwaited"]
    await publish(handlers, samples.opening())
    assert proposals(sent) == [("app-1", "open-1")]


async def test_an_opening_published_too_recently_is_matched_by_a_fact_15_days_later() -> None:
    handlers, _, sent = make()
    await publish(handlers, samples.opening(published_on=AT.date() - dt.timedelta(days=5)))
    await clear(handlers, person(1))
    assert sent.types()[1:] == ["PlacementAwaited"]
    later = samples.published(samples.opening("open-vsi", scheme=Scheme.VSI))
    await handlers.handle(
        Topic.PLACEMENT_INTAKE, msgspec.structs.replace(later, occurred_at=AT + dt.timedelta(10))
    )
    assert proposals(sent) == [("app-1", "open-1")]


class YieldingSeats(InMemorySeats):
    """Seats that let other tasks run before each step, so concurrent handlers interleave."""

    async def claim_volunteer(self, volunteer_id: str, application_id: str, attempt: int) -> bool:
        await asyncio.sleep(0)
        return await super().claim_volunteer(volunteer_id, application_id, attempt)

    async def reserve(
        self, openings: Sequence[Opening], application_id: str, placement_id: str, attempt: int
    ) -> tuple[Opening, str] | None:
        await asyncio.sleep(0)
        return await super().reserve(openings, application_id, placement_id, attempt)


async def test_two_candidates_racing_for_a_one_seat_opening_get_exactly_one_proposal() -> None:
    handlers, store, sent = make()
    store.seats = YieldingSeats()
    await publish(handlers, samples.opening(seats=1))
    for n in (1, 2):
        await handlers.handle(Topic.APPLICATION_EVENTS, received(person(n)))
    await asyncio.gather(*(handlers.handle(Topic.VETTING_EVENTS, cleared(person(n))) for n in (1, 2)))
    assert len(proposals(sent)) == 1
    assert sorted(sent.types()[1:]) == [
        "PlacementAwaited", "PlacementAwaited", "PlacementProposed", "PlacementUpdated"
    ]  # fmt: skip
    assert len(store.seats.seats) == 1


async def test_an_opening_goes_to_the_earliest_cleared_awaiting_candidates_until_its_seats_run_out() -> None:
    handlers, store, sent = make()
    for n, minutes in ((1, 30), (2, 10), (3, 20)):
        await clear(handlers, person(n), minutes)
    await publish(handlers, samples.opening(seats=2))
    assert proposals(sent) == [("app-2", "open-1"), ("app-3", "open-1")]
    assert await status(store, "app-1") is Status.AWAITING
    assert holders(store) == {"open-1#1": seeded_pid("app-2"), "open-1#2": seeded_pid("app-3")}


async def test_both_acceptances_confirm_the_placement_and_partners_are_told() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await confirm(handlers, person(1))
    assert sent.types()[-2:] == ["PlacementConfirmed", "PlacementUpdated"]
    assert events(sent)[-1].status == "confirmed"
    assert await status(store, "app-1") is Status.CONFIRMED


async def test_a_declined_seat_goes_to_the_next_candidate_and_the_decliner_waits_for_another() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    await handlers.handle(Topic.PLACEMENT_INTAKE, answer(person(1), Party.HOST, accepted=False))
    assert proposals(sent) == [("app-1", "open-1"), ("app-2", "open-1")]
    cancelled = events(sent, "PlacementCancelled")
    assert [(c.placement_id, c.reason) for c in cancelled] == [(seeded_pid("app-1"), R.DECLINED_BY_HOST)]
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}
    assert await status(store, "app-1") is Status.AWAITING
    await publish(handlers, samples.opening("open-2"))
    assert proposals(sent)[-1] == ("app-1", "open-2")
    assert events(sent, "PlacementProposed")[-1].placement_id == seeded_pid("app-1", 2)


async def test_a_refused_visa_releases_the_seat_and_the_next_candidate_gets_it() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await confirm(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    compensation = departure_cancelled(person(1), seeded_pid("app-1"), R.VISA_REFUSED)
    before = len(sent.items)
    await handlers.handle(Topic.DEPARTURE_EVENTS, compensation)
    assert sent.types()[before:] == [
        "PlacementCancelled",
        "PlacementUpdated",
        "PlacementClosed",
        "PlacementProposed",
        "PlacementUpdated",
    ]
    assert events(sent, "PlacementClosed")[0].reason == R.DEPARTURE_CANCELLED
    assert proposals(sent)[-1] == ("app-2", "open-1")
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}
    assert store.seats.volunteers == {"vol-2": ("app-2", 1)}
    after = len(sent.items)
    await handlers.handle(Topic.DEPARTURE_EVENTS, compensation)  # redelivered
    await handlers.handle(
        Topic.DEPARTURE_EVENTS, departure_cancelled(person(1), seeded_pid("app-1"), R.VOLUNTEER_WITHDREW)
    )
    assert len(sent.items) == after  # compensation is idempotent: no refusal, nothing new


async def test_a_withdrawal_cancels_the_proposal_and_frees_the_seat_and_the_volunteer() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(person(1)))
    assert events(sent, "PlacementClosed")[0].reason == R.VOLUNTEER_WITHDREW
    assert [e.status for e in events(sent, "PlacementUpdated")] == ["proposed", "cancelled", "proposed"]
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}
    assert "vol-1" not in store.seats.volunteers


async def test_a_volunteer_never_holds_two_active_placements() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await publish(handlers, samples.opening("open-vsi", scheme=Scheme.VSI))
    service_civique = person(1)
    vsi = samples.with_wishes(
        samples.submitted("app-9", volunteer_fields={"volunteer_id": "vol-1"}), scheme=Scheme.VSI
    )
    await clear(handlers, service_civique)
    await clear(handlers, vsi)
    assert proposals(sent) == [("app-1", "open-1")]
    assert await status(store, "app-9") is Status.AWAITING
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(service_civique))
    assert proposals(sent)[-1] == ("app-9", "open-vsi")  # the volunteer is free again


def vsi_of_volunteer_1() -> ApplicationSubmitted:
    """A second application of volunteer vol-1 (app-1's), for another scheme."""
    application = samples.submitted("app-9", volunteer_fields={"volunteer_id": "vol-1"})
    return samples.with_wishes(application, scheme=Scheme.VSI)


async def test_an_application_waiting_for_a_seat_leaves_its_volunteer_free_for_another_one() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening(seats=1))
    await clear(handlers, person(2))
    await clear(handlers, person(1), minutes=5)  # no seat left: it waits, holding nothing
    assert proposals(sent) == [("app-2", "open-1")] and await status(store, "app-1") is Status.AWAITING
    assert "vol-1" not in store.seats.volunteers
    await publish(handlers, samples.opening("open-vsi", scheme=Scheme.VSI))
    await clear(handlers, vsi_of_volunteer_1(), minutes=10)
    assert proposals(sent)[-1] == ("app-9", "open-vsi")
    assert store.seats.volunteers == {"vol-2": ("app-2", 1), "vol-1": ("app-9", 1)}
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(person(2)))  # its seat frees: app-1's turn,
    assert proposals(sent)[-1] == ("app-9", "open-vsi")  # but vol-1 is placed through app-9
    assert holders(store) == {"open-vsi#1": seeded_pid("app-9")}  # the seat app-1 tried is free again
    assert await status(store, "app-1") is Status.AWAITING


async def test_once_refused_its_claim_an_application_reserves_no_seat_while_its_volunteer_is_held() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening("open-vsi", scheme=Scheme.VSI))
    await clear(handlers, vsi_of_volunteer_1())  # vol-1 is placed through app-9
    reserved: list[str] = []
    reserve = store.seats.reserve

    async def counted(*args: Any) -> Any:
        reserved.append(args[1])
        return await reserve(*args)

    store.seats.reserve = counted  # type: ignore[method-assign]
    await publish(handlers, samples.opening())
    await clear(handlers, person(1), minutes=5)  # reserves, its claim is refused, the seat goes back
    for n in (2, 3):  # each publication offers seats to app-1 again: it reads who holds vol-1, no more
        await publish(handlers, samples.opening(f"open-{n}"))
    assert reserved == ["app-1"] and holders(store) == {"open-vsi#1": seeded_pid("app-9")}
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(vsi_of_volunteer_1()))  # vol-1 free again
    assert proposals(sent)[-1] == ("app-1", "open-1")


async def test_a_declined_proposal_frees_the_volunteer_for_their_other_application() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await publish(handlers, samples.opening("open-vsi", scheme=Scheme.VSI))
    await clear(handlers, vsi_of_volunteer_1(), minutes=5)
    assert proposals(sent) == [("app-1", "open-1")] and await status(store, "app-9") is Status.AWAITING
    await handlers.handle(Topic.PLACEMENT_INTAKE, answer(person(1), Party.VOLUNTEER, accepted=False))
    assert proposals(sent)[-1] == ("app-9", "open-vsi")  # app-1 waits again, without a claim
    assert store.seats.volunteers == {"vol-1": ("app-9", 1)}
    assert await status(store, "app-1") is Status.AWAITING


class SiblingClaimsMeanwhile(InMemorySeats):
    """Seats where, once app-1 has reserved, another application of vol-1 claims the volunteer before
    app-1 does, while a second candidate is cleared and finds the opening full."""

    def __init__(self) -> None:
        super().__init__()
        self.reserved, self.other_cleared = asyncio.Event(), asyncio.Event()

    async def reserve(
        self, openings: Sequence[Opening], application_id: str, placement_id: str, attempt: int
    ) -> tuple[Opening, str] | None:
        found = await super().reserve(openings, application_id, placement_id, attempt)
        if application_id == "app-1":
            self.reserved.set()
        return found

    async def claim_volunteer(self, volunteer_id: str, application_id: str, attempt: int) -> bool:
        if application_id == "app-1":
            await self.other_cleared.wait()
            self.volunteers.setdefault(volunteer_id, ("app-9", 1))  # the sibling's claim, made meanwhile
        return await super().claim_volunteer(volunteer_id, application_id, attempt)


async def test_a_seat_given_back_after_a_refused_claim_goes_to_whoever_waited_for_it_meanwhile() -> None:
    handlers, store, sent = make()
    seats = store.seats = SiblingClaimsMeanwhile()
    await publish(handlers, samples.opening(seats=1))
    for n in (1, 2):
        await handlers.handle(Topic.APPLICATION_EVENTS, received(person(n)))

    async def second() -> None:
        await seats.reserved.wait()
        await handlers.handle(Topic.VETTING_EVENTS, cleared(person(2), AT + dt.timedelta(minutes=5)))
        assert await status(store, "app-2") is Status.AWAITING  # the one seat was held by app-1
        seats.other_cleared.set()

    await asyncio.gather(handlers.handle(Topic.VETTING_EVENTS, cleared(person(1))), second())
    assert proposals(sent) == [("app-2", "open-1")]  # not left waiting beside the seat app-1 gave back
    assert await status(store, "app-1") is Status.AWAITING


async def test_a_claim_its_holders_state_proves_unused_is_released_for_another_application() -> None:
    handlers, store, sent = make()
    await clear(handlers, vsi_of_volunteer_1())  # app-9 waits: no VSI opening
    store.seats.volunteers["vol-1"] = ("app-9", 0)  # claimed before attempts were noted (or by a zombie)
    await publish(handlers, samples.opening())
    await clear(handlers, person(1), minutes=5)
    assert proposals(sent) == [("app-1", "open-1")]
    assert store.seats.volunteers == {"vol-1": ("app-1", 1)}


async def test_a_redelivered_fact_changes_nothing_and_emits_nothing() -> None:
    handlers, store, sent = make()
    opening = samples.published(samples.opening())
    await handlers.handle(Topic.PLACEMENT_INTAKE, opening)
    application, clearance = received(person(1)), cleared(person(1))
    for event in (application, clearance):
        await handlers.handle(Topic.APPLICATION_EVENTS, event)
    before = (sent.types(), store.candidates.documents["app-1"], holders(store))
    for event in (opening, application, clearance):
        await handlers.handle(Topic.APPLICATION_EVENTS, event)
    assert (sent.types(), store.candidates.documents["app-1"], holders(store)) == before


class Flaky(Sent):
    """A publish that fails once, on its n-th call."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.calls, self.fail_on = 0, fail_on

    async def __call__(self, outgoing: Iterable[Outgoing]) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ConnectionError("broker down")
        await super().__call__(outgoing)


async def test_a_crash_in_the_middle_of_an_opening_publication_continues_with_the_rest_on_redelivery() -> (
    None
):
    handlers, store, sent = make()
    for n in (1, 2, 3):
        await clear(handlers, person(n), minutes=n)
    flaky = Flaky(fail_on=3)  # registered, app-1 proposed, then the broker fails on app-2's proposal
    opening = samples.published(samples.opening(seats=3))
    with contextlib.suppress(ConnectionError):
        await PlacementHandlers(store, flaky, partial(volunteer_ref, KEY)).handle(
            Topic.PLACEMENT_INTAKE, opening
        )
    assert proposals(flaky) == [("app-1", "open-1")]
    await handlers.handle(Topic.PLACEMENT_INTAKE, opening)
    assert proposals(sent) == [("app-2", "open-1"), ("app-3", "open-1")]
    first = {e.event_id for e in events(flaky)}
    caused = [e for e in events(sent) if e.causation_id == opening.event_id]
    about_first = [
        e for e in caused if "app-1" in (getattr(e, "application_id", ""), getattr(e, "placement_id", "")[:5])
    ]
    redone = [e for e in about_first if e.event_id not in first]
    assert redone == []  # what the first delivery did is published again with the same ids, never anew


async def test_a_seat_reserved_before_a_crash_is_found_as_ours_on_redelivery() -> None:
    handlers, store, _ = make()
    await publish(handlers, samples.opening(seats=2))
    leftover = Hold(
        seat_id="open-1#2",
        opening_id="open-1",
        application_id="app-1",
        placement_id=seeded_pid("app-1"),
        attempt=1,
    )
    store.seats.seats["open-1#2"] = leftover
    await clear(handlers, person(1))
    assert holders(store) == {"open-1#2": seeded_pid("app-1")}
    state = (await store.candidates.load("app-1")).state
    assert state is not None and state.placement is not None and state.placement.seat_id == "open-1#2"


async def test_a_reservation_left_by_a_lost_race_is_released_with_the_next_save() -> None:
    handlers, store, _ = make()
    await publish(handlers, samples.opening())
    await publish(handlers, samples.opening("open-2", start_date=dt.date(2026, 10, 1), duration_months=6))
    await clear(handlers, person(1))
    lost = Hold(  # another process reserved for the same proposal, and lost the write race
        seat_id="open-2#1",
        opening_id="open-2",
        application_id="app-1",
        placement_id=seeded_pid("app-1"),
        attempt=1,
    )
    store.seats.seats["open-2#1"] = lost
    await handlers.handle(Topic.PLACEMENT_INTAKE, answer(person(1), Party.HOST))
    assert holders(store) == {"open-1#1": seeded_pid("app-1")}


class Interleaving(InMemoryAggregates[Candidate]):
    """Candidates whose next proposal save lets another writer save first."""

    def __init__(self) -> None:
        super().__init__(Candidate)
        self.first: Callable[[], Awaitable[None]] | None = None

    async def save(self, record: Record[Candidate]) -> Record[Candidate]:
        if self.first and record.state and record.state.status is Status.PROPOSED:
            first, self.first = self.first, None
            await first()
        return await super().save(record)


async def test_when_a_withdrawal_wins_the_write_race_the_seat_reserved_for_it_goes_to_the_next() -> None:
    handlers, store, sent = make()
    store.candidates = candidates = Interleaving()
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    candidates.first = partial(handlers.handle, Topic.APPLICATION_EVENTS, withdrawn(person(1)))
    opening = samples.published(samples.opening())
    with pytest.raises(ConcurrentWriteError):
        await handlers.handle(Topic.PLACEMENT_INTAKE, opening)
    await handlers.handle(Topic.PLACEMENT_INTAKE, opening)  # retried in place, as the consumer does
    assert proposals(sent) == [("app-2", "open-1")]
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}
    assert await status(store, "app-1") is Status.CLOSED


async def test_departure_and_arrival_reach_partners() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await confirm(handlers, person(1))
    await handlers.handle(Topic.DEPARTURE_EVENTS, departed(person(1), seeded_pid("app-1")))
    await handlers.handle(Topic.DEPARTURE_EVENTS, arrived(person(1), seeded_pid("app-1")))
    updates = events(sent, "PlacementUpdated")
    assert [u.status for u in updates] == ["proposed", "confirmed", "departed", "arrived"]
    assert {item.key for item in sent.items if item.topic == Topic.PARTNER_PLACEMENT_UPDATES} == {
        seeded_pid("app-1")
    }
    assert await status(store, "app-1") is Status.ARRIVED


def mission_ended(application: ApplicationSubmitted, *, early: bool) -> MissionEnded:
    return MissionEnded(
        subject_id=application.subject_id,
        producer="departure",
        application_id=application.application_id,
        placement_id=seeded_pid(application.application_id),
        last_day=dt.date(2027, 2, 28),
        early=early,
        reason=early_end(EarlyEndReason.HOST_DECISION) if early else R.COMPLETED,
    )


async def on_site_with_one_waiting(handlers: PlacementHandlers) -> None:
    """app-1 on site on the one seat of open-1; app-2, cleared later, waits for a seat."""
    await publish(handlers, samples.opening(seats=1))
    await clear(handlers, person(1))
    await confirm(handlers, person(1))
    await handlers.handle(Topic.DEPARTURE_EVENTS, departed(person(1), seeded_pid("app-1")))
    await handlers.handle(Topic.DEPARTURE_EVENTS, arrived(person(1), seeded_pid("app-1")))
    await clear(handlers, person(2), minutes=5)


async def test_an_early_end_gives_the_seat_back_to_the_opening_and_the_next_candidate_gets_it() -> None:
    handlers, store, sent = make()
    await on_site_with_one_waiting(handlers)
    assert await status(store, "app-2") is Status.AWAITING
    before = len(sent.items)
    await handlers.handle(Topic.DEPARTURE_EVENTS, mission_ended(person(1), early=True))
    assert sent.types()[before:] == ["MissionUpdated", "PlacementProposed", "PlacementUpdated"]
    assert proposals(sent)[-1] == ("app-2", "open-1")
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}
    assert store.seats.volunteers == {"vol-2": ("app-2", 1)}
    closed = (await store.candidates.load("app-1")).state
    assert closed is not None and closed.status is Status.ENDED
    assert (closed.wishes, closed.nationality, closed.limits) == (None, None, None)  # no longer needed


async def test_a_completed_mission_releases_its_seat_without_offering_it() -> None:
    handlers, store, sent = make()
    await on_site_with_one_waiting(handlers)
    before = len(sent.items)
    await handlers.handle(Topic.DEPARTURE_EVENTS, mission_ended(person(1), early=False))
    assert sent.types()[before:] == ["MissionUpdated"]  # its host learns it ended; nobody is offered the seat
    assert holders(store) == {} and "vol-1" not in store.seats.volunteers
    assert await status(store, "app-1") is Status.ENDED


def mission_fact(application: ApplicationSubmitted, kind: type[Event], **fields: Any) -> Event:
    """A departure event about app-1's mission on site."""
    ids = {"subject_id": application.subject_id, "producer": "departure"}
    placement = {"application_id": application.application_id, "placement_id": seeded_pid("app-1")}
    return kind(**ids, **placement, **fields)


async def test_the_host_learns_when_its_volunteers_mission_is_extended_ends_early_and_ends_never_why() -> (
    None
):
    handlers, _store, sent = make()
    await on_site_with_one_waiting(handlers)
    first = len(sent.items)
    extended = mission_fact(person(1), MissionExtended, end_date=dt.date(2027, 6, 30))
    notified = mission_fact(
        person(1),
        MissionEndingEarly,
        last_day=dt.date(2027, 4, 30),
        reason=early_end(EarlyEndReason.HOST_DECISION),
    )
    for fact in (extended, notified, extended):  # the extension redelivered: told once
        await handlers.handle(Topic.DEPARTURE_EVENTS, fact)
    await handlers.handle(Topic.DEPARTURE_EVENTS, mission_ended(person(1), early=True))
    news = [(item, decode(item.topic, item.value)) for item in sent.items[first:]]
    mission = [(item.key, e) for item, e in news if isinstance(e, MissionUpdated)]
    assert [(key, e.stage, e.end_date) for key, e in mission] == [  # keyed by the placement, in order
        (seeded_pid("app-1"), "extended", dt.date(2027, 6, 30)),
        (seeded_pid("app-1"), "ending-early", dt.date(2027, 4, 30)),
        (seeded_pid("app-1"), "ended", dt.date(2027, 2, 28)),
    ]
    assert {e.volunteer_ref for _, e in mission} == {
        volunteer_ref(KEY, samples.opening().host_organisation, "vol-1")
    }
    assert not any(b"host-decision" in item.value for item, e in news if isinstance(e, MissionUpdated))


def selected(application: ApplicationSubmitted, opening_id: str = "open-1") -> CandidateSelected:
    return samples.selected(application, opening_id)


async def approve(
    handlers: PlacementHandlers, application: ApplicationSubmitted, opening_id: str = "open-1"
) -> None:
    """The agency chooses the candidate for the opening too (its half of the choice)."""
    await handlers.handle(Topic.PLACEMENT_INTAKE_AGENCY, samples.choice_approved(application, opening_id))


async def choose(
    handlers: PlacementHandlers, application: ApplicationSubmitted, opening_id: str = "open-1"
) -> None:
    """The host chooses the candidate for its opening, then the agency does too."""
    await handlers.handle(Topic.PLACEMENT_INTAKE, selected(application, opening_id))
    await approve(handlers, application, opening_id)


async def test_a_host_that_selects_chooses_between_two_waiting_candidates_for_its_one_seat() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening(seats=1, selected_by_host=True))
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    assert proposals(sent) == []  # nobody is proposed a seat the host chooses for
    assert [e.application_id for e in events(sent, "PlacementAwaited")] == ["app-1", "app-2"]

    await handlers.handle(Topic.PLACEMENT_INTAKE, selected(person(2)))
    assert proposals(sent) == []  # the host chose; the agency has not yet
    await approve(handlers, person(2))
    assert proposals(sent) == [("app-2", "open-1")]  # the later cleared, as both chose
    assert [(e.by, e.agreed) for e in events(sent, "CandidateChosen")] == [("host", False), ("agency", True)]
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}
    await choose(handlers, person(1))
    [refused] = events(sent, "TransitionRefused")
    assert (refused.reason, refused.refused_event_type) == (
        "no seat of the opening is free",
        "ChoiceApproved",
    )
    state = (await store.candidates.load("app-1")).state
    assert (
        state is not None
        and state.status is Status.AWAITING
        and (state.chosen, state.approved) == (None, None)
    )


async def test_the_agency_may_choose_first_and_a_refusal_for_want_of_a_seat_voids_both_halves() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening(seats=1, selected_by_host=True))
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    await approve(handlers, person(1))
    assert proposals(sent) == [] and [(e.by, e.agreed) for e in events(sent, "CandidateChosen")] == [
        ("agency", False)
    ]
    await handlers.handle(Topic.PLACEMENT_INTAKE, selected(person(1)))
    assert proposals(sent) == [("app-1", "open-1")]
    # the one seat taken: the second is chosen by both, refused, and a later half alone agrees on nothing
    same = "the-same-id"  # two senders may use one event id: each refusal is its own
    await approve(handlers, person(2))
    await handlers.handle(Topic.PLACEMENT_INTAKE, samples.selected(person(2), "open-1", event_id=same))
    await handlers.handle(Topic.PLACEMENT_INTAKE, selected(person(2)))
    await handlers.handle(
        Topic.PLACEMENT_INTAKE_AGENCY, samples.choice_approved(person(2), "open-1", event_id=same)
    )
    refused = events(sent, "TransitionRefused")
    assert [(e.refused_event_type, e.reason) for e in refused] == [
        ("CandidateSelected", "no seat of the opening is free"),
        ("ChoiceApproved", "no seat of the opening is free"),
    ]
    state = (await store.candidates.load("app-2")).state
    assert state is not None and (state.chosen, state.approved) == (None, None)


async def test_a_hosts_choice_of_a_volunteer_placed_through_another_application_says_so() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening("open-auto"))
    await publish(handlers, samples.opening(seats=1, selected_by_host=True))
    await clear(handlers, person(1))
    again = samples.submitted("app-9", volunteer_fields={"volunteer_id": "vol-1"})
    await clear(handlers, again, minutes=5)
    assert proposals(sent) == [("app-1", "open-auto")]
    await choose(handlers, again)
    [refused] = events(sent, "TransitionRefused")
    assert refused.reason == "the volunteer holds a placement of another application"  # type: ignore[attr-defined]
    assert holders(store) == {"open-auto#1": seeded_pid("app-1")}  # the chosen opening's seat stays free
    state = (await store.candidates.load("app-9")).state
    assert state is not None and state.status is Status.AWAITING and state.chosen is None


@pytest.mark.parametrize(
    ("opening", "reason"),
    [
        (
            {"selected_by_host": True, "published_on": dt.date(2026, 11, 25)},
            "published less than 15 days ago",
        ),
        ({"selected_by_host": True, "region": "Loreto"}, "another region"),
        (
            {"region": "Loreto"},
            "the opening's host does not select its candidates: the first suitable one is proposed",
        ),
    ],
)
async def test_a_hosts_choice_that_breaks_a_rule_is_refused_with_the_reason(
    opening: dict[str, Any], reason: str
) -> None:
    handlers, _, sent = make()
    await publish(handlers, samples.opening("open-0", seats=1))  # app-1 takes its one seat: app-2 waits
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    await publish(handlers, samples.opening(seats=1, **opening))
    assert proposals(sent) == [("app-1", "open-0")]
    choice = msgspec.structs.replace(selected(person(2)), occurred_at=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))
    await handlers.handle(Topic.PLACEMENT_INTAKE, choice)
    assert [e.reason for e in events(sent, "TransitionRefused")] == [reason]


async def test_a_choice_of_a_candidate_not_waiting_or_of_an_unknown_opening_is_refused() -> None:
    handlers, _, sent = make()
    await handlers.handle(Topic.PLACEMENT_INTAKE, selected(person(1)))
    await clear(handlers, person(2))
    await handlers.handle(Topic.PLACEMENT_INTAKE, selected(person(2), "open-9"))
    assert [e.reason for e in events(sent, "TransitionRefused")] == [
        "a new candidate cannot be selected", "the opening is not registered",
    ]  # fmt: skip


async def test_facts_placement_does_not_act_on_are_ignored() -> None:
    handlers, store, sent = make()
    envelope: dict[str, Any] = {"subject_id": "vol-1", "application_id": "app-1"}
    ignored: list[tuple[Topic, Event]] = [
        (
            Topic.DEPARTURE_EVENTS,
            ChecklistOpened(producer="departure", placement_id=seeded_pid("app-1"), **envelope),
        ),
        (
            Topic.APPLICATION_EVENTS,
            ApplicationRejected(producer="application", reasons=("late",), **envelope),
        ),
        (
            Topic.VETTING_EVENTS,
            TransitionRefused(
                subject_id="vol-1",
                producer="vetting",
                refused_event_id="e-1",
                refused_event_type="ScreeningReported",
                status="cleared",
                reason="already cleared",
            ),
        ),
    ]
    for topic, event in ignored:
        await handlers.handle(topic, event)
    assert sent.items == [] and store.candidates.documents == {}


async def test_an_answer_for_a_past_proposal_is_refused() -> None:
    handlers, _, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await handlers.handle(Topic.PLACEMENT_INTAKE, answer(person(1), Party.VOLUNTEER, attempt=7))
    refusal = events(sent)[-1]
    assert (
        refusal.event_type == "TransitionRefused"
        and refusal.reason == "the answer is not for the current proposal"
    )


def test_the_volunteer_reference_is_a_keyed_hash_that_depends_on_the_key_and_the_partner() -> None:
    ref = volunteer_ref(KEY, "Host A", "vol-1")
    assert ref == volunteer_ref(KEY, "Host A", "vol-1")  # stable for one volunteer at one partner
    assert ref != volunteer_ref("another-key", "Host A", "vol-1")
    assert ref != volunteer_ref(KEY, "Host B", "vol-1")  # another at each partner
    assert volunteer_ref(KEY, "Host A|", "vol-1") != volunteer_ref(KEY, "Host A", "|vol-1")  # no ambiguity
    assert re.fullmatch(r"vol-[0-9a-f]{16}", ref)


async def test_two_hosts_see_one_volunteer_under_two_references() -> None:
    handlers, _, sent = make()
    await publish(handlers, samples.opening(opening_id="open-a", host_organisation="Host A", seats=1))
    await clear(handlers, person(1))
    await handlers.handle(
        Topic.PLACEMENT_INTAKE, answer(person(1), Party.HOST, accepted=False)
    )  # Host A declines
    await publish(handlers, samples.opening(opening_id="open-b", host_organisation="Host B", seats=1))
    updates = events(sent, "PlacementUpdated")
    refs = {u.host_organisation: u.volunteer_ref for u in updates}
    assert set(refs) == {"Host A", "Host B"}
    assert refs["Host A"] != refs["Host B"]
    assert refs["Host B"] == volunteer_ref(KEY, "Host B", "vol-1")


async def test_a_proposal_holds_one_seat_when_matching_and_a_hosts_choice_reserve_for_it_at_once() -> None:
    store = InMemorySeats()
    matched, chosen = samples.opening("open-a"), samples.opening("open-b", selected_by_host=True)
    assert await store.reserve([matched], "app-1", "pl-1", 1) == (matched, "open-a#1")
    assert await store.reserve([chosen], "app-1", "pl-1", 1) is None
    assert await store.reserve([matched], "app-1", "pl-1", 1) == (matched, "open-a#1")  # a redelivery
    assert [hold.seat_id for hold in await store.holds(["pl-1"])] == ["open-a#1"]


async def test_a_waiting_candidate_is_proposed_a_reciprocity_hosting_once_the_agency_approves_it() -> None:
    handlers, store, sent = make()
    paris = samples.opening("open-paris", scheme=Scheme.RECIPROCITY, country="FR", region="Île-de-France",
                            duration_months=10)  # fmt: skip
    await publish(handlers, paris)
    await clear(handlers, person(1, scheme=Scheme.RECIPROCITY, country="FR", region="Île-de-France"))
    assert proposals(sent) == [] and await status(store, "app-1") is Status.AWAITING
    await handlers.handle(Topic.PLACEMENT_INTAKE_AGENCY, samples.approved(paris))
    assert proposals(sent) == [("app-1", "open-paris")]


async def test_an_erased_candidate_frees_its_seat_for_the_next_and_its_partner_forgets_the_reference() -> (
    None
):
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await confirm(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    before = len(sent.items)
    await handlers.handle(Topic.APPLICATION_EVENTS, samples.erasure_completed(person(1)))
    assert sent.types()[before:] == [
        "ErasureCompleted",
        "PlacementErased",
        "PlacementProposed",
        "PlacementUpdated",
    ]
    notice = events(sent, "PlacementErased")[0]
    assert notice.placement_id == seeded_pid("app-1") == sent.items[before + 1].key
    assert sent.items[before + 1].topic == Topic.PARTNER_PLACEMENT_UPDATES
    assert notice.volunteer_ref == volunteer_ref(KEY, samples.opening().host_organisation, "vol-1")
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}
    assert store.seats.volunteers == {"vol-2": ("app-2", 1)}
    record = await store.candidates.load("app-1")
    assert record.erased and "Camille" not in repr(record) and "FR" not in repr(record.state)
    after = len(sent.items)
    await clear(handlers, person(1))  # replayed from the topics
    await confirm(handlers, person(1))
    await handlers.handle(Topic.VETTING_EVENTS, samples.erasure_completed(person(1), "vetting"))
    assert len(sent.items) == after and await store.candidates.load("app-1") == record


async def test_an_erased_candidate_that_never_had_a_placement_sends_no_partner_notice() -> None:
    handlers, store, sent = make()
    await clear(handlers, person(1))
    await handlers.handle(Topic.APPLICATION_EVENTS, samples.erasure_completed(person(1)))
    assert "PlacementErased" not in sent.types() and sent.types()[-1] == "ErasureCompleted"
    assert (await store.candidates.load("app-1")).erased and store.seats.volunteers == {}


async def test_a_tombstone_sends_its_news_again_on_a_redelivery_only_not_on_a_copy_at_a_new_offset() -> None:
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await confirm(handlers, person(1))
    source = f"{Topic.APPLICATION_EVENTS}:0"
    erasure = samples.erasure_completed(person(1))

    async def copies_sent_at(offset: int) -> int:
        before = sent.copies
        token = current_position.set(Position(source, offset))
        try:
            await handlers.handle(Topic.APPLICATION_EVENTS, erasure)
        finally:
            current_position.reset(token)
        return sent.copies - before

    assert await copies_sent_at(10) == 2 and sent.types()[-2:] == ["ErasureCompleted", "PlacementErased"]
    assert await copies_sent_at(10) == 2  # redelivered: what its first delivery may not have sent
    assert await copies_sent_at(99) == 0  # a copy replayed later (a retry, a dead letter): nothing about them
    record = await store.candidates.load("app-1")
    assert {o.event_id for o in record.outbox} == {i.event_id for i in sent.items[-2:]}  # its news only


async def test_a_tombstone_whose_news_is_not_out_sends_them_before_its_seat_goes_to_another() -> None:
    """Found by the erasing simulation (seed 3268, and 274 once partner topics moved the schedules):
    placement saves app-1's tombstone and dies before publishing its ErasureCompleted; vetting's
    ErasureCompleted about the same volunteer then reaches the tombstone, published nothing (it is not a
    redelivery), and its tidy released the seat, which went to app-2: a proposal on the seat came out
    before the news that freed it. A tombstone's news not known out are now sent first, once."""
    handlers, store, sent = make()
    await publish(handlers, samples.opening())
    await clear(handlers, person(1))
    await confirm(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    erasure = samples.erasure_completed(person(1))

    async def handle(on: PlacementHandlers, topic: Topic, event: Event, offset: int) -> None:
        token = current_position.set(Position(f"{topic}:0", offset))
        try:
            await on.handle(topic, event)
        finally:
            current_position.reset(token)

    cut_off = PlacementHandlers(store, Flaky(fail_on=1), partial(volunteer_ref, KEY))
    with pytest.raises(ConnectionError):
        await handle(cut_off, Topic.APPLICATION_EVENTS, erasure, 10)
    assert (await store.candidates.load("app-1")).erased and holders(store) == {
        "open-1#1": seeded_pid("app-1")
    }
    before = len(sent.items)
    await handle(handlers, Topic.VETTING_EVENTS, samples.erasure_completed(person(1), "vetting"), 20)
    assert sent.types()[before:] == [
        "ErasureCompleted",
        "PlacementErased",
        "PlacementProposed",
        "PlacementUpdated",
    ]
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}
    copies = sent.copies
    await handle(handlers, Topic.VETTING_EVENTS, samples.erasure_completed(person(1), "vetting"), 21)
    assert sent.copies == copies  # known out now: a copy sends nothing again


async def test_a_partners_updates_reach_its_own_topic_and_another_hosts_only_the_shared_one() -> None:
    every: list[Outgoing] = []

    async def record(outgoing: Iterable[Outgoing]) -> None:
        every.extend(outgoing)

    handlers, _, _ = make(record)
    npc = samples.opening(host_organisation="Neotropical Primate Conservation")  # a partner
    assert partner_of(npc.host_organisation) is not None
    await publish(handlers, npc)
    await publish(handlers, samples.opening("open-x", host_organisation="A host not onboarded", seats=1))
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=5)
    updates = [(o.topic, decode(o.topic, o.value)) for o in every if o.topic.startswith("envol.partner.")]
    by_topic: dict[str, set[str]] = {}
    for topic, update in updates:
        by_topic.setdefault(topic, set()).add(update.placement_id)
    own = topic_of(partner_of(npc.host_organisation))  # type: ignore[arg-type]
    assert by_topic[Topic.PARTNER_PLACEMENT_UPDATES] == {seeded_pid("app-1"), seeded_pid("app-2")}
    assert by_topic[own] == {seeded_pid("app-1")}  # app-2 went to the host that is not a partner
    assert set(by_topic) == {Topic.PARTNER_PLACEMENT_UPDATES, own}
    shared = [
        u
        for t, u in updates
        if t == Topic.PARTNER_PLACEMENT_UPDATES and u.placement_id == seeded_pid("app-1")
    ]
    assert shared == [u for t, u in updates if t == own]  # the same message, id included


async def test_a_new_key_makes_new_references_under_its_version_and_a_placement_keeps_its_own() -> None:
    store, sent = InMemoryPlacementStore(), Sent()
    first = PlacementHandlers(store, sent, partial(volunteer_ref, KEY), key_version=1)
    await publish(first, samples.opening(seats=2))
    await clear(first, person(1))
    rotated = PlacementHandlers(store, sent, partial(volunteer_ref, "a-new-key-of-the-next-version"), 2)
    await confirm(rotated, person(1))  # proposed under the first key, confirmed after the rotation
    await clear(rotated, person(2), minutes=5)
    updates = {(u.placement_id, u.status): u for u in events(sent, "PlacementUpdated")}
    proposed, confirmed = updates[seeded_pid("app-1"), "proposed"], updates[seeded_pid("app-1"), "confirmed"]
    assert (proposed.key_version, confirmed.key_version) == (1, 1)
    assert proposed.volunteer_ref == confirmed.volunteer_ref
    later = updates[seeded_pid("app-2"), "proposed"]
    assert later.key_version == 2
    host = samples.opening().host_organisation
    assert later.volunteer_ref == volunteer_ref("a-new-key-of-the-next-version", host, "vol-2")


async def test_a_partner_reads_on_its_own_topic_why_its_fact_was_refused_and_nobody_else_does() -> None:
    handlers, _, sent = make()
    npc = samples.opening(host_organisation="Neotropical Primate Conservation", seats=1)
    await publish(handlers, npc)
    await clear(handlers, person(1))
    by_reference = msgspec.structs.replace(
        samples.proposal_answered(npc, seeded_pid("app-1")), event_id="ird-1", producer="partner-ird"
    )
    by_volunteer = msgspec.structs.replace(
        answer(person(1), Party.HOST), event_id="ird-2", producer="partner-ird"
    )
    shared_host = msgspec.structs.replace(answer(person(1), Party.HOST), event_id="host-1", producer="host")
    for fact in (by_reference, by_volunteer, shared_host):
        await handlers.handle(Topic.PLACEMENT_INTAKE, fact)
    assert len(events(sent, "TransitionRefused")) == 3  # the operators read all three
    refusals = events(sent, "FactRefused")
    ird = topic_of(next(p for p in PARTNERS if p.id == "ird"))
    assert {item.topic for item in sent.items if b'"FactRefused"' in item.value} == {ird}
    assert [(r.refused_event_id, r.refused_event_type, r.subject_id) for r in refusals] == [
        ("ird-1", "ProposalAnswered", npc.opening_id),  # keyed by the opening it named
        ("ird-2", "PlacementAnswered", "ird-2"),  # never by the volunteer: by the partner's own event id
    ]
    assert {(r.reason, r.host_organisation) for r in refusals} == {
        ("partner-ird is not the host of this opening", "Institut de recherche pour le développement")
    }
    assert all(r.correlation_id == r.subject_id and r.causation_id is None for r in refusals)
    assert not {field for r in refusals for field in msgspec.structs.asdict(r)} & PERSONAL_FIELDS


def test_a_partner_is_told_the_reasons_about_its_own_standing_and_dates_and_no_other() -> None:
    """Every reason a partner's fact can be refused with, made by the rules themselves: told as it is when
    it concerns the partner's own standing, its opening or the mission's dates; else withheld."""
    mission = Mission(scheme=Scheme.VSI, start_date=dt.date(2027, 1, 4), end_date=dt.date(2027, 12, 31))
    past_the_limit = dt.date(2029, 1, 31)
    told = [
        not_the_host("partner-ird", "Neotropical Primate Conservation"),
        "the opening is not registered",
        "the opening is already registered",
        "no standing proposal of the opening has this placement id",
        "no applicant of the opening has this reference",
        f"no confirmed placement has this id ({MAX_EARLY_REPORTS} reports on it are kept already)",
        rules.extension(mission, dt.date(2027, 6, 30)),
        rules.early_end(mission, dt.date(2027, 3, 1), dt.date(2028, 1, 31)),
        rules.early_end(mission, dt.date(2027, 3, 1), dt.date(2027, 2, 1)),
        rules.early_end(mission, dt.date(2027, 3, 1), dt.date(2027, 3, 15)),
        rules.mission_end(mission, dt.date(2027, 6, 30)),
    ]
    withheld = [
        HOLDS_ANOTHER_PLACEMENT,  # another application of the volunteer
        NO_SEAT_FREE,  # a void choice never says why
        "a closed candidate cannot be selected",  # the case's status
        "a returned departure cannot become arrived",
        "the mission is over (the case is returned)",
        "the answer is not for the current proposal",  # a newer proposal, perhaps another host's
        "nationals are not eligible in their own country",
        rules.extension(mission, dt.date(2027, 6, 30), passport_expires_on=dt.date(2027, 8, 1)),
        rules.extension(msgspec.structs.replace(mission, max_months=12), past_the_limit),  # their VSI history
    ]
    report = samples.placement_reported(
        "pl-1", "Institut de recherche pour le développement", HostReport.ARRIVED
    )

    def told_as(reason: str | None) -> str:
        assert reason is not None  # each rule above does refuse
        return told_reason(refusal(report, "departure", DepartureStatus.ARRIVED, reason))

    assert [told_as(reason) for reason in told] == told
    assert {told_as(reason) for reason in withheld} == {WITHHELD}
    opening_rule = refusal(samples.published(samples.opening()), "placement", Status.NEW, "vsi: 25 months")
    assert told_reason(opening_rule) == "vsi: 25 months"  # the partner's own opening's rules


async def test_departures_refusal_of_a_partners_report_is_relayed_to_that_partner_alone() -> None:
    handlers, _, sent = make()
    report = samples.placement_reported(
        "pl-9", "Institut de recherche pour le développement", HostReport.ARRIVED
    )
    unknown = f"no confirmed placement has this id ({MAX_EARLY_REPORTS} reports on it are kept already)"
    refused = refusal(report, "departure", DepartureStatus.NEW, unknown)
    from_portal = refusal(samples.submitted("app-7"), "departure", DepartureStatus.NEW, "not known")
    not_departures = msgspec.structs.replace(refused, producer="vetting", event_id="vetting-refusal")
    for event in (refused, from_portal, not_departures, refused):  # a copy is relayed again, as it was
        await handlers.handle(Topic.DEPARTURE_EVENTS, event)
    ird = topic_of(next(p for p in PARTNERS if p.id == "ird"))
    assert [item.topic for item in sent.items] == [ird]  # the portal's fact, another's refusal: not told
    assert sent.copies == 2  # the copy under the same event id, for the partner to drop
    [relayed] = events(sent, "FactRefused")
    assert (relayed.refused_event_id, relayed.subject_id, relayed.reason) == (
        report.event_id,
        "pl-9",
        unknown,
    )
    extension = refusal(report, "departure", DepartureStatus.ARRIVED, f"{PASSPORT_TOO_SHORT} of an extension")
    await handlers.handle(Topic.DEPARTURE_EVENTS, extension)
    assert events(sent, "FactRefused")[-1].reason == WITHHELD  # the volunteer's passport: not the host's


async def test_a_host_answers_and_chooses_for_its_own_openings_only() -> None:
    handlers, store, sent = make()
    npc = samples.opening(host_organisation="Neotropical Primate Conservation", seats=1)
    await publish(handlers, npc)
    await clear(handlers, person(1))
    for stranger in ("partner-ird", "host"):  # another partner, and the shared host principal
        forged = msgspec.structs.replace(
            answer(person(1), Party.HOST), event_id=f"forged-{stranger}", producer=stranger
        )
        await handlers.handle(Topic.PLACEMENT_INTAKE, forged)
    reasons = [e.reason for e in events(sent, "TransitionRefused")]
    assert reasons == [
        "partner-ird is not the host of this opening",
        "host is not the host of this opening",
    ]
    own = msgspec.structs.replace(answer(person(1), Party.HOST), producer="partner-npc")
    await handlers.handle(Topic.PLACEMENT_INTAKE, own)
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, answer(person(1), Party.VOLUNTEER))
    assert await status(store, "app-1") is Status.CONFIRMED

    chooser = samples.opening("open-sel", host_organisation="Neotropical Primate Conservation", seats=1,
                              selected_by_host=True)  # fmt: skip
    await publish(handlers, chooser)
    await clear(handlers, person(2), minutes=5)
    choice = msgspec.structs.replace(
        selected(person(2), "open-sel"),
        occurred_at=dt.datetime(2026, 12, 3, tzinfo=dt.UTC),
        producer="partner-fsp",
    )
    await handlers.handle(Topic.PLACEMENT_INTAKE, choice)
    assert events(sent, "TransitionRefused")[-1].reason == "partner-fsp is not the host of this opening"


# Candidates apply to offers; a host that selects sees its applicants on its shortlist (docs/domain.md, 5)
NPC = "Neotropical Primate Conservation"  # a partner: it has topics of its own


def applied(application: ApplicationSubmitted, opening_id: str = "open-1") -> Event:
    return samples.offer_applied(application, opening_id, occurred_at=AT)


async def shortlisted_pair(handlers: PlacementHandlers) -> Opening:
    """A one-seat opening of a partner that selects, and two waiting volunteers who applied to it."""
    opening = samples.opening(seats=1, selected_by_host=True, host_organisation=NPC)
    await publish(handlers, opening)
    for n in (1, 2):
        await clear(handlers, person(n), minutes=n)
        await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(n)))
    return opening


async def test_an_applicant_is_proposed_the_offer_it_applied_to_before_one_matching_ranks_first() -> None:
    handlers, _store, sent = make()
    await publish(handlers, samples.opening("open-1"))
    await publish(handlers, samples.opening("open-2"))
    await handlers.handle(Topic.APPLICATION_EVENTS, received(person(1)))
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1), "open-2"))
    await handlers.handle(Topic.VETTING_EVENTS, cleared(person(1), AT))
    await clear(handlers, person(2), minutes=5)
    assert proposals(sent) == [("app-1", "open-2"), ("app-2", "open-1")]  # matching alone ranks open-1 first
    assert [(e.application_id, e.opening_id) for e in events(sent, "CandidateApplied")] == [
        ("app-1", "open-2")
    ]


async def test_a_partner_that_selects_sees_each_applicant_by_reference_alone_and_chooses_one_by_it() -> None:
    handlers, store, sent = make()
    opening = await shortlisted_pair(handlers)
    shortlist = [
        item for item in sent.items if decode(item.topic, item.value).event_type == "CandidateShortlisted"
    ]
    own = topic_of(PARTNERS[0])
    assert [item.topic for item in shortlist] == [own, own]  # its own topic only, never the shared one
    refs = [volunteer_ref(KEY, NPC, f"vol-{n}") for n in (1, 2)]
    assert [(item.key, decode(item.topic, item.value).volunteer_ref) for item in shortlist] == [  # type: ignore[attr-defined]
        ("open-1", ref) for ref in refs
    ]
    ids = (b"app-1", b"app-2", b'"vol-1"', b'"vol-2"')
    assert not any(id_ in item.value for id_ in ids for item in shortlist)
    assert proposals(sent) == []

    await handlers.handle(
        Topic.PLACEMENT_INTAKE, samples.applicant_selected(opening, refs[1], occurred_at=AT)
    )
    await approve(handlers, person(2))
    assert proposals(sent) == [("app-2", "open-1")]
    assert holders(store) == {"open-1#1": seeded_pid("app-2")}


async def test_matching_suggests_a_waiting_candidate_to_a_selecting_opening_and_reserves_nothing() -> None:
    handlers, store, sent = make()
    await clear(handlers, person(1))  # waits: no opening yet
    await clear(handlers, person(2, region="Loreto"), minutes=1)  # waits for a mission elsewhere
    opening = samples.opening(seats=1, selected_by_host=True, host_organisation=NPC)
    published = msgspec.structs.replace(samples.published(opening), occurred_at=AT)
    await handlers.handle(Topic.PLACEMENT_INTAKE, published)
    await handlers.handle(Topic.PLACEMENT_INTAKE, published)  # redelivered: suggests nothing more
    assert [(e.application_id, e.opening_id) for e in events(sent, "CandidateSuggested")] == [
        ("app-1", "open-1")
    ]
    [entry] = [
        (item, decode(item.topic, item.value)) for item in sent.items if b"CandidateShortlisted" in item.value
    ]
    assert entry[0].topic == topic_of(PARTNERS[0]) and entry[0].key == "open-1"
    ref = volunteer_ref(KEY, NPC, "vol-1")
    assert entry[1].suggested and entry[1].volunteer_ref == ref  # type: ignore[attr-defined]
    assert proposals(sent) == [] and holders(store) == {}  # a suggestion reserves nothing

    await handlers.handle(Topic.PLACEMENT_INTAKE, samples.applicant_selected(opening, ref, occurred_at=AT))
    await approve(handlers, person(1))  # the host and the agency choose the candidate suggested
    assert proposals(sent) == [("app-1", "open-1")]


async def test_applying_to_an_offer_matching_suggested_makes_it_the_volunteers_own_with_no_second_entry() -> (
    None
):
    handlers, store, sent = make()
    await publish(handlers, samples.opening(seats=1, selected_by_host=True, host_organisation=NPC))
    await clear(handlers, person(1))  # suggested at once
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1)))
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1)))  # applying twice: nothing
    assert sent.types().count("CandidateSuggested") == 1 and sent.types().count("CandidateApplied") == 1
    assert sent.types().count("CandidateShortlisted") == 1
    state = (await store.candidates.load("app-1")).state
    assert state is not None and [(a.opening_id, a.suggested, a.by_volunteer) for a in state.applied] == [
        ("open-1", True, True)
    ]


async def test_matching_suggests_only_openings_that_select_and_only_to_a_candidate_without_a_seat() -> None:
    handlers, _store, sent = make()
    await publish(handlers, samples.opening("open-1"))  # first come, first served: proposed, never suggested
    selecting = samples.opening("open-2", selected_by_host=True, host_organisation=NPC)
    await handlers.handle(
        Topic.PLACEMENT_INTAKE, msgspec.structs.replace(samples.published(selecting), occurred_at=AT)
    )
    await clear(handlers, person(1))  # a seat of open-1: proposed, so not suggested
    await clear(handlers, person(2), minutes=1)  # open-1 has no seat left: suggested open-2
    assert proposals(sent) == [("app-1", "open-1")]
    assert [(e.application_id, e.opening_id) for e in events(sent, "CandidateSuggested")] == [
        ("app-2", "open-2")
    ]


@pytest.mark.parametrize("host_second", [True, False])
async def test_a_partners_choice_that_takes_no_seat_is_void_and_its_partner_told_by_reference(
    host_second: bool,
) -> None:
    handlers, _store, sent = make()
    opening = await shortlisted_pair(handlers)
    refs = [volunteer_ref(KEY, NPC, f"vol-{n}") for n in (1, 2)]
    for ref, application in ((refs[1], person(2)), (refs[0], person(1))):  # the one seat, then no seat
        host = samples.applicant_selected(opening, ref, occurred_at=AT)
        halves = [
            partial(approve, handlers, application),
            partial(handlers.handle, Topic.PLACEMENT_INTAKE, host),
        ]
        for half in halves if host_second else halves[::-1]:
            await half()
    assert proposals(sent) == [("app-2", "open-1")]
    void = [item for item in sent.items if b'"ChoiceVoid"' in item.value]
    assert [(item.topic, item.key) for item in void] == [(topic_of(PARTNERS[0]), "open-1")]
    notice = decode(void[0].topic, void[0].value)
    assert notice.volunteer_ref == refs[0] and notice.opening_id == "open-1"  # type: ignore[attr-defined]
    assert not any(i in void[0].value for i in (b"app-1", b'"vol-1"', b"no seat"))  # never who, nor why


async def test_a_partner_answers_its_proposal_by_the_placement_id_its_topic_gave() -> None:
    handlers, store, sent = make()
    opening = samples.opening(host_organisation=NPC)
    await publish(handlers, opening)
    await clear(handlers, person(1))
    [update] = events(sent, "PlacementUpdated")  # what the partner reads: no volunteer or application id
    assert (update.placement_id, update.opening_id) == (seeded_pid("app-1"), "open-1")
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, answer(person(1), Party.VOLUNTEER))
    await handlers.handle(Topic.PLACEMENT_INTAKE, samples.proposal_answered(opening, update.placement_id))
    assert [e.application_id for e in events(sent, "PlacementConfirmed")] == ["app-1"]
    assert await status(store, "app-1") is Status.CONFIRMED and events(sent, "TransitionRefused") == []


async def test_a_partners_decline_by_placement_id_frees_the_seat_once_even_when_redelivered() -> None:
    handlers, store, sent = make()
    opening = samples.opening(host_organisation=NPC)
    await publish(handlers, opening)
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=1)  # waits for the one seat
    decline = samples.proposal_answered(opening, seeded_pid("app-1"), accepted=False)
    await handlers.handle(Topic.PLACEMENT_INTAKE, decline)
    await handlers.handle(
        Topic.PLACEMENT_INTAKE, decline
    )  # redelivered: the seat it named is released by now
    assert [e.reason for e in events(sent, "PlacementCancelled")] == [R.DECLINED_BY_HOST]
    assert proposals(sent) == [("app-1", "open-1"), ("app-2", "open-1")]
    assert events(sent, "TransitionRefused") == [] and await status(store, "app-1") is Status.AWAITING


class KilledAtTheNextSave(InMemoryAggregates[Candidate]):
    """The candidates, whose next save, once armed, is cut off by a crash."""

    def __init__(self) -> None:
        super().__init__(Candidate)
        self.armed = False

    async def save(self, record: Record[Candidate]) -> Record[Candidate]:
        if self.armed:
            self.armed = False
            raise ConnectionError("killed")
        return await super().save(record)


async def test_a_decline_by_placement_id_killed_after_its_resolution_is_applied_once_on_redelivery() -> None:
    """The host's answer by placement id is resolved on the opening (saved), then the process dies before
    the candidate saves the answer it stands for: the redelivery finds the resolution, now that the
    proposal's seat is still held, and applies the answer once."""
    handlers, store, sent = make()
    store.candidates = KilledAtTheNextSave()
    opening = samples.opening(host_organisation=NPC)
    await publish(handlers, opening)
    await clear(handlers, person(1))
    await clear(handlers, person(2), minutes=1)  # waits for the one seat
    decline = samples.proposal_answered(opening, seeded_pid("app-1"), accepted=False)
    store.candidates.armed = True
    with pytest.raises(ConnectionError):
        await handlers.handle(Topic.PLACEMENT_INTAKE, decline)
    assert (await store.openings.load("open-1")).has_applied(decline.identity)  # resolved, then killed
    assert events(sent, "PlacementCancelled") == [] and await status(store, "app-1") is Status.PROPOSED
    await handlers.handle(Topic.PLACEMENT_INTAKE, decline)  # redelivered
    await handlers.handle(Topic.PLACEMENT_INTAKE, decline)  # and again
    assert [e.reason for e in events(sent, "PlacementCancelled")] == [R.DECLINED_BY_HOST]
    assert proposals(sent) == [("app-1", "open-1"), ("app-2", "open-1")]
    assert events(sent, "TransitionRefused") == [] and await status(store, "app-1") is Status.AWAITING


@pytest.mark.parametrize(
    ("answer_of", "reason"),
    [
        (
            {"placement_id": "pl-000000000000000000000000"},
            "no standing proposal of the opening has this placement id",
        ),
        ({"producer": "partner-ird"}, "partner-ird is not the host of this opening"),
    ],
)
async def test_an_answer_by_placement_id_naming_no_proposal_of_the_senders_opening_is_refused(
    answer_of: dict[str, str], reason: str
) -> None:
    handlers, store, sent = make()
    opening = samples.opening(host_organisation=NPC)
    await publish(handlers, opening)
    await clear(handlers, person(1))
    stray = msgspec.structs.replace(samples.proposal_answered(opening, seeded_pid("app-1")), **answer_of)
    await handlers.handle(Topic.PLACEMENT_INTAKE, stray)
    assert [e.reason for e in events(sent, "TransitionRefused")] == [reason]
    assert await status(store, "app-1") is Status.PROPOSED  # nothing answered


async def test_a_choice_by_a_reference_no_applicant_has_is_refused_once_and_changes_nothing() -> None:
    handlers, store, sent = make()
    opening = samples.opening(seats=1, selected_by_host=True, host_organisation=NPC)
    await publish(handlers, opening)
    await clear(handlers, person(1))  # waiting (and suggested: on the shortlist), but not vol-2
    choice = samples.applicant_selected(opening, volunteer_ref(KEY, NPC, "vol-2"), occurred_at=AT)
    await handlers.handle(Topic.PLACEMENT_INTAKE, choice)
    await handlers.handle(Topic.PLACEMENT_INTAKE, choice)  # redelivered
    assert [e.reason for e in events(sent, "TransitionRefused")] == [
        "no applicant of the opening has this reference"
    ]
    assert proposals(sent) == [] and holders(store) == {}


async def test_a_host_cannot_choose_the_applicant_of_another_hosts_opening() -> None:
    handlers, _store, sent = make()
    opening = samples.opening(seats=1, selected_by_host=True, host_organisation=NPC)
    await publish(handlers, opening)
    await clear(handlers, person(1))
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1)))
    stranger = msgspec.structs.replace(
        samples.applicant_selected(opening, volunteer_ref(KEY, NPC, "vol-1"), occurred_at=AT),
        producer="partner-ird",
    )
    await handlers.handle(Topic.PLACEMENT_INTAKE, stranger)
    [refused] = events(sent, "TransitionRefused")
    assert refused.reason == "partner-ird is not the host of this opening"
    assert proposals(sent) == []


@pytest.mark.parametrize(
    ("opening", "occurred_at", "reason"),
    [
        ({"region": "Loreto"}, AT, "another region"),
        ({}, dt.datetime(2026, 9, 1, tzinfo=dt.UTC), "the offer has started: it takes no more applications"),
        (None, AT, "the opening is not registered"),
    ],
)
async def test_an_application_to_an_offer_that_cannot_take_it_is_refused_with_the_reason(
    opening: dict[str, Any] | None, occurred_at: dt.datetime, reason: str
) -> None:
    handlers, store, sent = make()
    if opening is not None:
        await publish(handlers, samples.opening(**opening))
    await handlers.handle(Topic.APPLICATION_EVENTS, received(person(1)))
    await handlers.handle(
        Topic.PLACEMENT_INTAKE_PORTAL, samples.offer_applied(person(1), "open-1", occurred_at=occurred_at)
    )
    assert [e.reason for e in events(sent, "TransitionRefused")] == [reason]
    state = (await store.candidates.load("app-1")).state
    assert state is not None and state.applied == ()


async def test_applying_twice_to_one_offer_records_it_once() -> None:
    handlers, _store, sent = make()
    await publish(handlers, samples.opening())
    await handlers.handle(Topic.APPLICATION_EVENTS, received(person(1)))
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1)))
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1)))  # a second application, new id
    assert len(events(sent, "CandidateApplied")) == 1 and events(sent, "TransitionRefused") == []


async def test_a_choice_by_reference_redelivered_after_its_candidate_closed_changes_nothing() -> None:
    handlers, _store, sent = make()
    opening = await shortlisted_pair(handlers)
    choice = samples.applicant_selected(opening, volunteer_ref(KEY, NPC, "vol-2"), occurred_at=AT)
    await handlers.handle(Topic.PLACEMENT_INTAKE, choice)
    await approve(handlers, person(2))
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(person(2)))
    before = len(sent.items)
    await handlers.handle(Topic.PLACEMENT_INTAKE, choice)  # redelivered: the same choice, the same candidate
    assert len(sent.items) == before and events(sent, "TransitionRefused") == []
    assert proposals(sent) == [("app-2", "open-1")]


async def test_a_choice_refused_before_the_candidate_applied_stays_refused_when_redelivered_after() -> None:
    handlers, _store, sent = make()
    opening = samples.opening(seats=1, selected_by_host=True, host_organisation=NPC)
    await publish(handlers, opening)
    choice = samples.applicant_selected(opening, volunteer_ref(KEY, NPC, "vol-1"), occurred_at=AT)
    await handlers.handle(Topic.PLACEMENT_INTAKE, choice)  # the reference is on no shortlist yet
    await clear(handlers, person(1))  # waiting: matching suggests them, so now it is
    assert [e.volunteer_ref for e in events(sent, "CandidateShortlisted")] == [
        volunteer_ref(KEY, NPC, "vol-1")
    ]
    await approve(handlers, person(1))  # the agency's half: the host's alone would complete the choice
    await handlers.handle(Topic.PLACEMENT_INTAKE, choice)  # redelivered: decided once, refused
    assert len(events(sent, "TransitionRefused")) == 1 and proposals(sent) == []
    assert [e.by for e in events(sent, "CandidateChosen")] == ["agency"]


async def test_a_shortlists_reference_still_chooses_its_applicant_after_the_key_changed() -> None:
    handlers, store, sent = make()
    opening = await shortlisted_pair(handlers)
    rotated = PlacementHandlers(store, sent, partial(volunteer_ref, "a-new-key"), key_version=2)
    await rotated.handle(
        Topic.PLACEMENT_INTAKE,
        samples.applicant_selected(opening, volunteer_ref(KEY, NPC, "vol-1"), occurred_at=AT),
    )
    await approve(rotated, person(1))
    assert proposals(sent) == [("app-1", "open-1")]


async def test_an_erased_applicant_is_taken_off_its_partners_shortlist_by_reference() -> None:
    handlers, store, sent = make()
    await shortlisted_pair(handlers)
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(person(1)))  # closed first, then erased
    await handlers.handle(Topic.APPLICATION_EVENTS, samples.erasure_completed(person(1)))
    [notice] = [item for item in sent.items if decode(item.topic, item.value).event_type == "ShortlistErased"]
    erased = decode(notice.topic, notice.value)
    assert (notice.topic, notice.key) == (topic_of(PARTNERS[0]), "open-1")
    assert erased.volunteer_ref == volunteer_ref(KEY, NPC, "vol-1")  # type: ignore[attr-defined]
    state = (await store.candidates.load("app-1")).state
    assert state is not None and state.applied == ()


def shortlist_news(sent: Sent, event_type: str) -> list[tuple[str, str | None, str]]:
    """The shortlist messages of one type sent: (topic, key, volunteer_ref)."""
    found = [(item, decode(item.topic, item.value)) for item in sent.items]
    return [(item.topic, item.key, e.volunteer_ref) for item, e in found if e.event_type == event_type]  # type: ignore[attr-defined]


async def test_an_applicant_whose_case_closes_leaves_its_partners_shortlist_once_and_cannot_be_chosen() -> (
    None
):
    handlers, _store, sent = make()
    opening = await shortlisted_pair(handlers)
    ref = volunteer_ref(KEY, NPC, "vol-1")
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(person(1)))
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(person(1)))  # a second closure: nothing more
    assert shortlist_news(sent, "ShortlistLeft") == [(topic_of(PARTNERS[0]), "open-1", ref)]
    left = [item.value for item in sent.items if b"ShortlistLeft" in item.value]
    assert not any(word in value for value in left for word in (b"withdr", b"app-1", b'"vol-1"'))

    await handlers.handle(Topic.PLACEMENT_INTAKE, samples.applicant_selected(opening, ref, occurred_at=AT))
    assert [e.reason for e in events(sent, "TransitionRefused")] == ["a closed candidate cannot be selected"]
    assert proposals(sent) == []


async def test_an_applicant_confirmed_on_one_opening_leaves_the_other_shortlists_and_not_that_ones() -> None:
    handlers, store, sent = make()
    chosen, other = (
        samples.opening(o, seats=1, selected_by_host=True, host_organisation=NPC)
        for o in ("open-1", "open-2")
    )
    for opening in (chosen, other):
        await publish(handlers, opening)
    await clear(handlers, person(1))
    for opening in (chosen, other):
        await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1), opening.opening_id))
    ref = volunteer_ref(KEY, NPC, "vol-1")
    await handlers.handle(Topic.PLACEMENT_INTAKE, samples.applicant_selected(chosen, ref, occurred_at=AT))
    await approve(handlers, person(1))
    assert proposals(sent) == [("app-1", "open-1")]
    assert shortlist_news(sent, "ShortlistLeft") == []  # proposed only: a decline would make them wait again
    host = msgspec.structs.replace(answer(person(1), Party.HOST), producer="partner-npc")
    await handlers.handle(Topic.PLACEMENT_INTAKE, host)
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, answer(person(1), Party.VOLUNTEER))
    assert await status(store, "app-1") is Status.CONFIRMED
    assert shortlist_news(sent, "ShortlistLeft") == [(topic_of(PARTNERS[0]), "open-2", ref)]
    await handlers.handle(Topic.DEPARTURE_EVENTS, departure_cancelled(person(1), seeded_pid("app-1")))
    assert await status(store, "app-1") is Status.CLOSED
    assert len(shortlist_news(sent, "ShortlistLeft")) == 1  # told once, when confirmed


async def test_once_the_shared_partner_topic_is_retired_a_partner_reads_its_placements_on_its_own_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, sent = InMemoryPlacementStore(), Sent()
    handlers = PlacementHandlers(store, sent, partial(volunteer_ref, KEY), shared_partner_topic=False)
    await publish(handlers, samples.opening("open-npc", host_organisation=NPC, seats=1))
    await publish(handlers, samples.opening("open-other", host_organisation="Host A", seats=1))
    await clear(handlers, person(1, region="San Martín"))
    await clear(handlers, person(2, region="San Martín"), minutes=1)
    assert sorted(proposals(sent)) == [("app-1", "open-npc"), ("app-2", "open-other")]
    partner_news = {item.topic for item in sent.items if item.topic != Topic.PLACEMENT_EVENTS}
    assert partner_news == {topic_of(PARTNERS[0])}  # not the shared topic; Host A, no partner, gets none
    assert [
        r.getMessage().split(" reaches")[0] for r in caplog.records if "reaches no partner" in r.message
    ] == [f"PlacementUpdated of {seeded_pid('app-2')}"]


async def test_an_applicant_proposed_a_seat_of_the_shortlists_opening_is_told_of_by_the_placement_alone() -> (
    None
):
    handlers, _store, sent = make()
    opening = await shortlisted_pair(handlers)
    ref = volunteer_ref(KEY, NPC, "vol-1")
    await handlers.handle(Topic.PLACEMENT_INTAKE, samples.applicant_selected(opening, ref, occurred_at=AT))
    await approve(handlers, person(1))
    await handlers.handle(Topic.APPLICATION_EVENTS, withdrawn(person(1)))  # while proposed
    assert shortlist_news(sent, "ShortlistLeft") == []
    cancelled = [u for u in events(sent, "PlacementUpdated") if u.status == "cancelled"]
    assert {(u.volunteer_ref, u.placement_id) for u in cancelled} == {(ref, seeded_pid("app-1"))}


async def test_an_offer_applied_to_before_placement_has_the_application_is_kept_and_applied_once_it_has() -> (
    None
):
    handlers, store, sent = make()
    await publish(handlers, samples.opening("open-1"))
    await publish(handlers, samples.opening("open-2"))
    registered = len(sent.items)
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1), "open-2"))  # before anything
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1), "open-2"))  # sent again
    assert len(sent.items) == registered  # kept, not refused
    await handlers.handle(Topic.VETTING_EVENTS, cleared(person(1), AT))
    assert len(sent.items) == registered  # cleared, the application not received yet: still kept
    await handlers.handle(Topic.APPLICATION_EVENTS, received(person(1)))
    assert [(e.application_id, e.opening_id) for e in events(sent, "CandidateApplied")] == [
        ("app-1", "open-2")
    ]
    assert proposals(sent) == [
        ("app-1", "open-2")
    ]  # the offer applied to first, though matching ranks open-1
    state = (await store.candidates.load("app-1")).state
    assert state is not None and state.deferred == () and state.seed  # seeded by an Envol service's fact
    assert events(sent, "TransitionRefused") == []


async def test_a_kept_offer_reaches_a_partners_shortlist_once_the_application_is_received() -> None:
    handlers, _store, sent = make()
    await publish(handlers, samples.opening(seats=1, selected_by_host=True, host_organisation=NPC))
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1)))
    assert shortlist_news(sent, "CandidateShortlisted") == []
    await clear(handlers, person(1))
    ref = volunteer_ref(KEY, NPC, "vol-1")
    assert shortlist_news(sent, "CandidateShortlisted") == [(topic_of(PARTNERS[0]), "open-1", ref)]


async def test_a_kept_offer_stated_for_another_volunteer_is_refused_when_the_application_arrives() -> None:
    handlers, _store, sent = make()
    await publish(handlers, samples.opening())
    stray = msgspec.structs.replace(applied(person(1)), subject_id="vol-x")  # the portal's wrong volunteer
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, stray)
    await clear(handlers, person(1))
    assert [e.reason for e in events(sent, "TransitionRefused")] == [
        "the offer's volunteer is not the application's"
    ]
    assert events(sent, "CandidateApplied") == []
    assert proposals(sent) == [("app-1", "open-1")]  # the application goes on: matching proposes a seat


async def test_kept_offers_are_applied_before_a_seat_is_sought_and_what_comes_back_names_the_portals_id() -> (
    None
):
    handlers, _store, sent = make()
    await publish(handlers, samples.opening("open-1"))
    await publish(
        handlers, samples.opening("open-sel", seats=1, selected_by_host=True, host_organisation=NPC)
    )
    await publish(handlers, samples.opening("open-2"))
    long_id = "x" * 64  # the longest event id a sender may use
    kept = [
        samples.offer_applied(person(1), "open-sel", occurred_at=AT),
        samples.offer_applied(person(1), "open-2", occurred_at=AT, event_id=long_id),
    ]
    for offer in kept:
        await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, offer)
    await handlers.handle(Topic.VETTING_EVENTS, cleared(person(1), AT))  # cleared before the application
    await handlers.handle(Topic.APPLICATION_EVENTS, received(person(1)))
    assert [e.opening_id for e in events(sent, "CandidateApplied")] == ["open-sel", "open-2"]
    assert proposals(sent) == [("app-1", "open-2")]  # an offer applied to, not matching's first (open-1)
    assert events(sent, "TransitionRefused") == []
    for item in sent.items:
        decode(item.topic, item.value)  # every message Envol sends keeps to its contract
    [entry] = [e for e in events(sent, "CandidateApplied") if e.opening_id == "open-2"]
    assert entry.causation_id == long_id


async def test_a_kept_offer_is_refused_when_the_case_closes_before_the_application_arrives() -> None:
    handlers, _store, sent = make()
    await publish(handlers, samples.opening())
    offer = applied(person(1))
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, offer)
    await handlers.handle(Topic.VETTING_EVENTS, refused(person(1)))
    [refusal] = events(sent, "TransitionRefused")
    assert (refusal.refused_event_id, refusal.reason) == (
        offer.event_id,
        "the application closed before the offer was applied",
    )


async def test_a_stray_offer_kept_first_does_not_stop_the_volunteers_own_from_being_kept() -> None:
    handlers, _store, sent = make()
    await publish(handlers, samples.opening("open-1"))
    await publish(handlers, samples.opening("open-2"))
    stray = msgspec.structs.replace(applied(person(1), "open-1"), subject_id="vol-x")
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, stray)
    await handlers.handle(Topic.PLACEMENT_INTAKE_PORTAL, applied(person(1), "open-2"))  # the genuine one
    await clear(handlers, person(1))
    assert [e.reason for e in events(sent, "TransitionRefused")] == [
        "the offer's volunteer is not the application's"
    ]
    assert [e.opening_id for e in events(sent, "CandidateApplied")] == ["open-2"]
