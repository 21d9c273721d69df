"""The port the departure handlers need, and its in-memory fake."""

from __future__ import annotations

from typing import Protocol

from services.departure.domain import Departure, Hosted
from shared.aggregates import Aggregates
from shared.memory import InMemoryAggregates


class DepartureStore(Protocol):
    """Everything the departure handlers store: one departure case per application, and the placement
    each follows, by the placement's id."""

    @property
    def departures(self) -> Aggregates[Departure]:
        """The departure cases (read-only, so any adapter's own aggregates type satisfies it)."""

    @property
    def placements(self) -> Aggregates[Hosted]:
        """The placements the cases follow, by placement id."""


class InMemoryDepartureStore:
    """The fast fake of the departure store."""

    def __init__(self) -> None:
        self.departures: InMemoryAggregates[Departure] = InMemoryAggregates(Departure)
        self.placements: InMemoryAggregates[Hosted] = InMemoryAggregates(Hosted)
