"""The services' in-memory stores with an await point before every operation and after every write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

from services.application.domain import Application, Erasure
from services.application.store import Claim, InMemoryClaims
from services.departure.domain import Departure, Hosted
from services.placement.domain import Candidate
from services.placement.openings import Listing
from services.placement.seating import Hold
from services.placement.store import InMemoryAwaiting, InMemorySeats
from services.vetting.domain import Case
from shared.aggregates import Record
from shared.contracts.placement import Opening
from shared.memory import InMemoryAggregates
from tests.simulation.scheduler import Scheduler

S = TypeVar("S")


class Aggregates(InMemoryAggregates[S]):
    """Aggregates with the same version check as MongoDB; a crash may come before or after each write."""

    def __init__(self, state_type: Any, scheduler: Scheduler) -> None:
        super().__init__(state_type)
        self.point = scheduler.point

    async def load(self, aggregate_id: str) -> Record[S]:
        await self.point(f"load {aggregate_id}")
        return await super().load(aggregate_id)

    async def load_many(self, aggregate_ids: Sequence[str]) -> dict[str, Record[S]]:
        await self.point(f"load {' '.join(aggregate_ids)}")
        return {i: self._stored(i) for i in aggregate_ids}

    async def save(self, record: Record[S]) -> Record[S]:
        await self.point(f"save {record.id} v{record.version}")
        saved = await super().save(record)
        await self.point(f"saved {record.id}")
        return saved

    # save_many is InMemoryAggregates': each document through `save`, so a crash may cut a bulk write
    # between two documents, as an unordered bulk write on the servers may be cut

    async def find(self, query: dict[str, Any]) -> Sequence[Record[S]]:
        await self.point("find")
        return await super().find(query)


class Seats(InMemorySeats):
    """Seats and active placements, each operation an await point."""

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__()
        self.point = scheduler.point

    async def claim_volunteer(self, volunteer_id: str, application_id: str, attempt: int) -> bool:
        await self.point("claim")
        claimed = await super().claim_volunteer(volunteer_id, application_id, attempt)
        await self.point("claimed")
        return claimed

    async def release_volunteer(self, volunteer_id: str, application_id: str, through: int) -> None:
        await self.point("release volunteer")
        await super().release_volunteer(volunteer_id, application_id, through)
        await self.point("released volunteer")

    async def holder_of(self, volunteer_id: str) -> tuple[str, int] | None:
        await self.point("holder")
        return await super().holder_of(volunteer_id)

    async def reserve(
        self, openings: Sequence[Opening], application_id: str, placement_id: str, attempt: int
    ) -> tuple[Opening, str] | None:
        await self.point("reserve")
        reserved = await super().reserve(openings, application_id, placement_id, attempt)
        await self.point("reserved")
        return reserved

    async def holds(self, placement_ids: Sequence[str]) -> Sequence[Hold]:
        await self.point("holds")
        return await super().holds(placement_ids)

    async def release(self, hold: Hold) -> None:
        await self.point("release")
        await super().release(hold)
        await self.point("released")


class Awaiting(InMemoryAwaiting):
    """The waiting list, each operation an await point."""

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__()
        self.point = scheduler.point

    async def mark(self, application_id: str, cleared_at: dt.datetime, version: int) -> None:
        await self.point("mark")
        await super().mark(application_id, cleared_at, version)
        await self.point("marked")

    async def unmark(self, application_id: str, version: int) -> None:
        await self.point("unmark")
        await super().unmark(application_id, version)
        await self.point("unmarked")

    async def ordered(self) -> Sequence[str]:
        await self.point("awaiting")
        return await super().ordered()


class Claims(InMemoryClaims):
    """Open-application claims, each operation an await point."""

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__()
        self.point = scheduler.point

    async def claim_many(self, claims: Sequence[Claim]) -> dict[Claim, bool]:
        await self.point("claim")
        claimed = await super().claim_many(claims)
        await self.point("claimed")
        return claimed

    async def release(self, key: str, application_id: str) -> None:
        await self.point("release claim")
        await super().release(key, application_id)
        await self.point("released claim")


class PlacementStore:
    def __init__(self, scheduler: Scheduler) -> None:
        self.candidates: Aggregates[Candidate] = Aggregates(Candidate, scheduler)
        self.openings: Aggregates[Listing] = Aggregates(Listing, scheduler)
        self.seats = Seats(scheduler)
        self.awaiting = Awaiting(scheduler)


class ApplicationStore:
    def __init__(self, scheduler: Scheduler) -> None:
        self.applications: Aggregates[Application] = Aggregates(Application, scheduler)
        self.claims = Claims(scheduler)
        self.erasures: Aggregates[Erasure] = Aggregates(Erasure, scheduler)


class VettingStore:
    def __init__(self, scheduler: Scheduler) -> None:
        self.cases: Aggregates[Case] = Aggregates(Case, scheduler)


class DepartureStore:
    def __init__(self, scheduler: Scheduler) -> None:
        self.departures: Aggregates[Departure] = Aggregates(Departure, scheduler)
        self.placements: Aggregates[Hosted] = Aggregates(Hosted, scheduler)
