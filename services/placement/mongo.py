"""The placement service's MongoDB adapter: the only module that knows its collections.

Every frequent operation is an `_id` lookup, insert or replace: on MongoDB these use the primary key,
and FerretDB (SQLite) pushes nothing else down, so any other filter would scan a whole collection.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.placement.domain import Candidate
from services.placement.openings import Listing
from services.placement.seating import Hold, seat_id
from shared.contracts.placement import Opening
from shared.mongo import Keyed, MongoAggregates, put

NONE_RELEASED = ""  # the release token of an opening no seat was ever released from


class MongoSeats:
    """Seats and active placements as documents whose `_id` is the unique key: inserts decide who holds.

    `seats/<opening>#<n>` says which proposal holds seat n; `holdings/<placement id>` points at the seat a
    proposal tries or holds, written before the seat's insert, so a redelivery finds its own seat again.

    Finding a free seat without scanning: `seat_releases/<opening>` holds a token every release renews,
    and `seat_scans/<opening>` says up to which seat a scan found every seat taken, under which token.
    Seats only become free by a release, so while an opening's token is unchanged a scan starts where the
    last one stopped, and a full opening costs nothing; after a release it starts again from seat 1. Both
    collections have one small document per opening, so reading them whole is cheap on both servers.
    """

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.seats = database["seats"]
        self.holdings = database["holdings"]
        self.active = database["active_placements"]
        self.releases = database["seat_releases"]
        self.scans = database["seat_scans"]
        self.keyed_seats, self.keyed_active = Keyed(self.seats), Keyed(self.active)
        self.scanned: dict[str, tuple[str, int]] | None = None  # opening -> (token, first seat maybe free)

    async def claim_volunteer(self, volunteer_id: str, application_id: str, attempt: int) -> bool:
        """Insert the claim, or raise the application's own to this attempt. On FerretDB, a raise by one
        process and a release by another (`release_volunteer`, filtered by attempt) are not serialised
        between processes (see `Keyed`): a release of attempt k racing a raise to k+1 may delete the new
        claim. MongoDB applies both atomically."""
        claim = {"application_id": application_id, "attempt": attempt}
        earlier = {"application_id": application_id, "attempt": {"$not": {"$gte": attempt}}}
        while True:
            try:
                await self.active.insert_one({"_id": volunteer_id, **claim})
                return True
            except DuplicateKeyError:
                if await self.keyed_active.replace_if(volunteer_id, earlier, claim):
                    return True  # the application's claim, now for this attempt
            holder = await self.active.find_one({"_id": volunteer_id})
            if holder is not None:  # this attempt's or a later one's already, or another application's
                return bool(holder["application_id"] == application_id)
            # released meanwhile: claim it again

    async def holder_of(self, volunteer_id: str) -> tuple[str, int] | None:
        holder = await self.active.find_one({"_id": volunteer_id})
        return None if holder is None else (str(holder["application_id"]), int(holder.get("attempt", 0)))

    async def release_volunteer(self, volunteer_id: str, application_id: str, through: int) -> None:
        unused = {"application_id": application_id, "attempt": {"$not": {"$gt": through}}}
        await self.keyed_active.delete_if(volunteer_id, unused)

    async def reserve(
        self, openings: Sequence[Opening], application_id: str, placement_id: str, attempt: int
    ) -> tuple[Opening, str] | None:
        pointer = await self.holdings.find_one({"_id": placement_id})
        seat = pointer and await self.seats.find_one({"_id": pointer["seat_id"]})
        if seat and seat["placement_id"] == placement_id:  # reserved by an earlier delivery of the same fact
            for opening in openings:
                if opening.opening_id == seat["opening_id"]:
                    return opening, str(seat["_id"])
            return None  # or by another path (matching, a host's choice) for this proposal: one seat each
        tokens = {document["_id"]: document["token"] async for document in self.releases.find({})}
        hold = {"application_id": application_id, "placement_id": placement_id, "attempt": attempt}
        for opening in openings:
            taken = await self._take_seat(opening, tokens.get(opening.opening_id, NONE_RELEASED), hold)
            if taken is not None:
                return opening, taken
        return None

    async def _take_seat(self, opening: Opening, token: str, hold: dict[str, Any]) -> str | None:
        first = await self._scan_start(opening.opening_id, token)
        for n in range(first, opening.seats + 1):
            key = seat_id(opening.opening_id, n)
            if await self.seats.find_one({"_id": key}, {"_id": 1}) is not None:
                continue  # taken: a read is cheaper than a failed insert
            held = {"seat_id": key, "opening_id": opening.opening_id, **hold}
            await put(self.holdings, hold["placement_id"], held)
            try:
                await self.seats.insert_one({"_id": key, **held})
            except DuplicateKeyError:
                continue  # taken by another process meanwhile: try the next seat
            await self._scanned(opening.opening_id, token, n + 1)
            return key
        await self._scanned(opening.opening_id, token, opening.seats + 1)
        return None

    async def _scan_start(self, opening_id: str, token: str) -> int:
        if self.scanned is None:
            self.scanned = {doc["_id"]: (doc["token"], doc["next"]) async for doc in self.scans.find({})}
        known_token, first = self.scanned.get(opening_id, (NONE_RELEASED, 1))
        return first if known_token == token else 1

    async def _scanned(self, opening_id: str, token: str, first_free: int) -> None:
        """Remember that, under `token`, every seat before `first_free` is taken."""
        assert self.scanned is not None
        if self.scanned.get(opening_id) != (token, first_free):
            self.scanned[opening_id] = (token, first_free)
            scan = {"token": token, "next": first_free}
            await put(self.scans, opening_id, scan)

    async def occupancy(self) -> dict[str, int]:
        """Count reserved seats per opening (a full scan: for the audit, not for the hot path)."""
        counts: dict[str, int] = {}
        async for seat in self.seats.find({}, {"opening_id": 1}):
            counts[seat["opening_id"]] = counts.get(seat["opening_id"], 0) + 1
        return counts

    async def holds(self, placement_ids: Sequence[str]) -> Sequence[Hold]:
        """The seats the proposals' pointers name: held, or tried, or released but not yet forgotten."""
        pointers = [await self.holdings.find_one({"_id": placement_id}) for placement_id in placement_ids]
        return [Hold(**{k: v for k, v in p.items() if k != "_id"}) for p in pointers if p is not None]

    async def release(self, hold: Hold) -> None:
        """Free the seat if the proposal holds it, renew the opening's token, then forget the pointer: a crash
        in between leaves the pointer, so the redelivery releases again and renews the token."""
        await self.keyed_seats.delete_if(hold.seat_id, {"placement_id": hold.placement_id})
        await put(self.releases, hold.opening_id, {"token": uuid.uuid4().hex})
        await self.holdings.delete_one({"_id": hold.placement_id})


class MongoAwaiting:
    """Waiting candidates, one small document each: when cleared, and the candidate version that listed it.

    The version conditions filter on more than `_id`, which FerretDB answers by reading the collection:
    it holds only the candidates waiting now, so that stays small."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = database["awaiting"]

    async def mark(self, application_id: str, cleared_at: dt.datetime, version: int) -> None:
        listed = {"since": cleared_at, "version": version}
        try:
            await self.collection.insert_one({"_id": application_id, **listed})
        except DuplicateKeyError:
            await self.collection.update_one(_older(application_id, version), {"$set": listed})

    async def unmark(self, application_id: str, version: int) -> None:
        await self.collection.delete_one(_older(application_id, version))

    async def ordered(self) -> Sequence[str]:
        waiting = [(doc["since"], doc["_id"]) async for doc in self.collection.find({})]
        return [application_id for _, application_id in sorted(waiting)]


def _older(application_id: str, version: int) -> dict[str, Any]:
    """The candidate's entry if an older version than `version` listed it (or one that noted none)."""
    return {"_id": application_id, "version": {"$not": {"$gte": version}}}


class MongoPlacementStore:
    """The placement store on MongoDB."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self.candidates: MongoAggregates[Candidate] = MongoAggregates(database["candidates"], Candidate)
        self.openings: MongoAggregates[Listing] = MongoAggregates(database["openings"], Listing)
        self.seats = MongoSeats(database)
        self.awaiting = MongoAwaiting(database)
        self.database = database

    async def setup(self) -> None:
        """Nothing to create: every lookup is by `_id`, which every collection indexes."""
