"""The port the vetting handlers need, and its in-memory fake."""

from __future__ import annotations

from typing import Protocol

from services.vetting.domain import Case
from shared.aggregates import Aggregates
from shared.memory import InMemoryAggregates


class VettingStore(Protocol):
    """Everything the vetting handlers store: one case per application."""

    @property
    def cases(self) -> Aggregates[Case]:
        """The vetting cases, keyed by application id."""


class InMemoryVettingStore:
    """The fast fake of the vetting store."""

    def __init__(self) -> None:
        self.cases: InMemoryAggregates[Case] = InMemoryAggregates(Case)
