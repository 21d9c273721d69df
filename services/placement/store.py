"""The ports the placement handlers need, and their in-memory fakes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from services.placement.domain import Candidate
from services.placement.openings import Listing
from services.placement.seating import Hold, seat_id
from shared.aggregates import Aggregates
from shared.contracts.placement import Opening
from shared.memory import InMemoryAggregates


class Seats(Protocol):
    """Seat reservations and active placements, both enforced by unique keys.

    A seat `<opening_id>#<n>` (n in 1..seats) is held by at most one application, and a volunteer by
    at most one application with an active placement: never more reservations than seats, never two
    active placements for one volunteer, even across processes.
    """

    async def claim_volunteer(self, volunteer_id: str, application_id: str, attempt: int) -> bool:
        """Claim the volunteer's one active placement for the application's `attempt`-th proposal (an
        application's claim keeps its latest attempt); False when another application holds it."""

    async def release_volunteer(self, volunteer_id: str, application_id: str, through: int) -> None:
        """Release the volunteer's active placement if this application holds it for an attempt up to
        `through` (a claim from before attempts were noted counts as attempt 0)."""

    async def holder_of(self, volunteer_id: str) -> tuple[str, int] | None:
        """The application that holds the volunteer's active placement, and for which attempt (0: a claim
        from before attempts were noted); None when no one does."""

    async def reserve(
        self, openings: Sequence[Opening], application_id: str, placement_id: str, attempt: int
    ) -> tuple[Opening, str] | None:
        """Reserve a free seat for the proposal on the first of `openings` that has one, or find the seat it
        holds already; return the opening and the seat, or None when every opening is full, or when the
        proposal holds a seat already on an opening not among `openings` (a proposal holds one seat)."""

    async def holds(self, placement_ids: Sequence[str]) -> Sequence[Hold]:
        """Return the seats these proposals hold, or may hold: a seat they tried may show up."""

    async def release(self, hold: Hold) -> None:
        """Release a seat if it is still held as `hold` says, and forget the proposal's hold."""


class Awaiting(Protocol):
    """The cleared candidates waiting for a seat, earliest cleared first (kept small: only those waiting).

    Each entry remembers the version of the candidate that listed it: a change asked for by an older
    version than the entry's is ignored, so writers late with their tidy cannot undo a newer state's."""

    async def mark(self, application_id: str, cleared_at: dt.datetime, version: int) -> None:
        """Note that the candidate waits for a seat, as of its `version`."""

    async def unmark(self, application_id: str, version: int) -> None:
        """Note that the candidate no longer waits, as of its `version` (an entry listed later stays)."""

    async def ordered(self) -> Sequence[str]:
        """Return the waiting candidates' application ids, earliest cleared first."""


class PlacementStore(Protocol):
    """Everything the placement handlers store."""

    @property
    def candidates(self) -> Aggregates[Candidate]:
        """The candidates, keyed by application id (read-only, so any adapter's aggregates type fits)."""

    @property
    def openings(self) -> Aggregates[Listing]:
        """The openings, keyed by opening id."""

    @property
    def seats(self) -> Seats:
        """The seat reservations and active placements."""

    @property
    def awaiting(self) -> Awaiting:
        """The candidates waiting for a seat."""


class InMemorySeats:
    """Seats and active placements in dicts, with the same semantics as the unique keys."""

    def __init__(self) -> None:
        self.seats: dict[str, Hold] = {}
        self.volunteers: dict[str, tuple[str, int]] = {}  # volunteer -> (application, attempt)

    async def claim_volunteer(self, volunteer_id: str, application_id: str, attempt: int) -> bool:
        holder, held = self.volunteers.setdefault(volunteer_id, (application_id, attempt))
        if holder == application_id:
            self.volunteers[volunteer_id] = (holder, max(held, attempt))
        return holder == application_id

    async def release_volunteer(self, volunteer_id: str, application_id: str, through: int) -> None:
        holder, held = self.volunteers.get(volunteer_id, ("", 0))
        if holder == application_id and held <= through:
            del self.volunteers[volunteer_id]

    async def holder_of(self, volunteer_id: str) -> tuple[str, int] | None:
        return self.volunteers.get(volunteer_id)

    async def reserve(
        self, openings: Sequence[Opening], application_id: str, placement_id: str, attempt: int
    ) -> tuple[Opening, str] | None:
        held = next((hold for hold in self.seats.values() if hold.placement_id == placement_id), None)
        if held is not None:  # by an earlier delivery, or by another path (matching, a host's choice)
            found = [opening for opening in openings if opening.opening_id == held.opening_id]
            return (found[0], held.seat_id) if found else None
        for opening in openings:
            for n in range(1, opening.seats + 1):
                key = seat_id(opening.opening_id, n)
                hold = Hold(
                    seat_id=key,
                    opening_id=opening.opening_id,
                    application_id=application_id,
                    placement_id=placement_id,
                    attempt=attempt,
                )
                if self.seats.setdefault(key, hold) is hold:
                    return opening, key
        return None

    async def holds(self, placement_ids: Sequence[str]) -> Sequence[Hold]:
        return [hold for hold in self.seats.values() if hold.placement_id in placement_ids]

    async def release(self, hold: Hold) -> None:
        if self.seats.get(hold.seat_id) == hold:
            del self.seats[hold.seat_id]


class InMemoryAwaiting:
    """Waiting candidates in a dict: application id -> (cleared at, version that listed it)."""

    def __init__(self) -> None:
        self.since: dict[str, tuple[dt.datetime, int]] = {}

    async def mark(self, application_id: str, cleared_at: dt.datetime, version: int) -> None:
        if self.since.get(application_id, (cleared_at, -1))[1] < version:
            self.since[application_id] = (cleared_at, version)

    async def unmark(self, application_id: str, version: int) -> None:
        if application_id in self.since and self.since[application_id][1] < version:
            del self.since[application_id]

    async def ordered(self) -> Sequence[str]:
        return sorted(self.since, key=lambda a: (self.since[a][0], a))


class InMemoryPlacementStore:
    """The fast fake of the placement store."""

    def __init__(self) -> None:
        self.candidates: InMemoryAggregates[Candidate] = InMemoryAggregates(Candidate)
        self.openings: InMemoryAggregates[Listing] = InMemoryAggregates(Listing)
        self.seats = InMemorySeats()
        self.awaiting = InMemoryAwaiting()
