"""Placement's seats on the real MongoDB-protocol server, seen by two stores as two processes would."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from pymongo import AsyncMongoClient

from services.placement.mongo import MongoAwaiting, MongoSeats
from shared import samples
from shared.contracts.placement import Opening
from shared.settings import Settings

Client = AsyncMongoClient[dict[str, Any]]


def two_processes(mongo: Client, settings: Settings) -> tuple[MongoSeats, MongoSeats]:
    database = mongo[settings.database(f"placement{uuid.uuid4().hex[:8]}")]
    return MongoSeats(database), MongoSeats(database)


async def reserve(seats: MongoSeats, opening: Opening, n: int) -> str | None:
    reserved = await seats.reserve([opening], f"app-{n}", f"app-{n}.p1", 1)
    return None if reserved is None else reserved[1]


async def release(seats: MongoSeats, n: int) -> None:
    for hold in await seats.holds([f"app-{n}.p1"]):
        await seats.release(hold)


async def test_two_processes_fill_an_opening_exactly_and_a_redelivery_finds_its_seat(
    mongo: Client, settings: Settings
) -> None:
    one, other = two_processes(mongo, settings)
    opening = samples.opening(seats=3)
    got = [await reserve(one, opening, 1), await reserve(other, opening, 2), await reserve(one, opening, 3)]
    assert sorted(got) == ["open-1#1", "open-1#2", "open-1#3"]
    assert await reserve(other, opening, 4) is None and await reserve(one, opening, 5) is None
    assert await reserve(other, opening, 1) == got[0]  # the same proposal again: its own seat
    assert await one.occupancy() == {"open-1": 3}


async def test_a_seat_released_by_one_process_is_found_by_the_other_that_saw_the_opening_full(
    mongo: Client, settings: Settings
) -> None:
    one, other = two_processes(mongo, settings)
    opening = samples.opening(seats=2)
    await reserve(one, opening, 1)
    await reserve(one, opening, 2)
    assert await reserve(other, opening, 3) is None  # full, as `other` now remembers
    await release(one, 1)
    assert await reserve(other, opening, 3) == "open-1#1"
    assert await one.holds(["app-1.p1"]) == []  # the released proposal's pointer is forgotten
    assert await reserve(MongoSeats(one.seats.database), opening, 4) is None  # a restart: full again


async def test_a_release_cut_short_after_freeing_the_seat_is_finished_by_the_redelivery(
    mongo: Client, settings: Settings
) -> None:
    one, other = two_processes(mongo, settings)
    opening = samples.opening(seats=1)
    await reserve(one, opening, 1)
    assert await reserve(other, opening, 2) is None
    await one.seats.delete_one({"_id": "open-1#1"})  # the release's first step, then a crash
    assert await reserve(other, opening, 2) is None  # no token renewed yet: the opening still looks full
    await release(one, 1)  # the redelivery finds the pointer and finishes
    assert await reserve(other, opening, 2) == "open-1#1"


async def test_concurrent_reservations_from_two_processes_never_exceed_the_seats(
    mongo: Client, settings: Settings
) -> None:
    one, other = two_processes(mongo, settings)
    opening = samples.opening(seats=10)
    got = await asyncio.gather(*(reserve((one, other)[n % 2], opening, n) for n in range(30)))
    held = [seat for seat in got if seat is not None]
    assert len(held) == 10 and len(set(held)) == 10
    assert await one.occupancy() == {"open-1": 10}


async def test_the_awaiting_list_ignores_a_removal_asked_for_by_an_older_candidate_version(
    mongo: Client, settings: Settings
) -> None:
    database = mongo[settings.database(f"placement{uuid.uuid4().hex[:8]}")]
    one, late = MongoAwaiting(database), MongoAwaiting(database)
    cleared = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    await one.mark("app-1", cleared, 3)  # version 3 waits
    await late.unmark("app-1", 2)  # a tidy of version 2, come late
    await late.mark("app-1", cleared, 1)  # and an older mark
    assert await one.ordered() == ["app-1"]
    await one.mark("app-2", cleared - dt.timedelta(days=1), 1)
    assert await one.ordered() == ["app-2", "app-1"]  # earliest cleared first
    await one.unmark("app-1", 4)  # version 4 is proposed
    assert await late.ordered() == ["app-2"]
    await database["awaiting"].insert_one({"_id": "app-3", "since": cleared})  # listed before versions
    await one.unmark("app-3", 1)
    assert await one.ordered() == ["app-2"]


async def test_a_proposal_holds_one_seat_whichever_path_reserves_it_first(
    mongo: Client, settings: Settings
) -> None:
    """Automatic matching and a host's choice may reserve for the same next proposal at once, on different
    openings: the second finds the proposal's seat and takes none, so no seat is left without its pointer."""
    one, other = two_processes(mongo, settings)
    matched, chosen = (
        samples.opening("open-a", seats=1),
        samples.opening("open-b", seats=1, selected_by_host=True),
    )
    assert await reserve(one, matched, 1) == "open-a#1"
    assert await reserve(other, chosen, 1) is None  # the host's choice for the same proposal takes nothing
    assert [hold.seat_id for hold in await other.holds(["app-1.p1"])] == ["open-a#1"]
    assert await reserve(other, chosen, 2) == "open-b#1"  # the seat is still free for another candidate


async def test_a_volunteer_is_claimed_by_one_application_whose_latest_attempt_a_release_must_cover(
    mongo: Client, settings: Settings
) -> None:
    one, other = two_processes(mongo, settings)
    assert await one.claim_volunteer("vol-1", "app-1", 1)
    assert not await other.claim_volunteer("vol-1", "app-9", 1)  # another application's claim
    assert await other.claim_volunteer("vol-1", "app-1", 2)  # the same application's next attempt
    assert await one.claim_volunteer("vol-1", "app-1", 1)  # a late seeker of an earlier attempt: still held
    await one.release_volunteer("vol-1", "app-1", 1)  # attempt 1 decided: attempt 2's claim stays
    await one.release_volunteer("vol-1", "app-9", 5)  # not app-9's to release
    assert not await other.claim_volunteer("vol-1", "app-9", 1)
    await other.release_volunteer("vol-1", "app-1", 2)
    assert await other.claim_volunteer("vol-1", "app-9", 1)
    await one.active.replace_one({"_id": "vol-1"}, {"application_id": "app-9"})  # noted before attempts
    await one.release_volunteer("vol-1", "app-9", 1)
    assert await one.claim_volunteer("vol-1", "app-1", 3)
