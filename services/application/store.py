"""The ports the application handlers need, and their in-memory fakes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.application.domain import Application, Erasure
from shared.aggregates import Aggregates
from shared.memory import InMemoryAggregates

Claim = tuple[str, str]  # a claimed key, and the application that claims it


class Claims(Protocol):
    """One open application per volunteer and scheme, enforced by unique keys."""

    async def claim_many(self, claims: Sequence[Claim]) -> dict[Claim, bool]:
        """Claim each (key, application id) at once: False for those another application holds."""

    async def release(self, key: str, application_id: str) -> None:
        """Release `key` if this application holds it."""


class ApplicationStore(Protocol):
    """Everything the application handlers store."""

    @property
    def applications(self) -> Aggregates[Application]:
        """The applications, keyed by application id."""

    @property
    def claims(self) -> Claims:
        """The open-application claims."""

    @property
    def erasures(self) -> Aggregates[Erasure]:
        """The volunteers' erasure requests, keyed by volunteer id."""


class InMemoryClaims:
    """Claims in a dict."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}

    async def claim_many(self, claims: Sequence[Claim]) -> dict[Claim, bool]:
        return {(key, held_by): self.holders.setdefault(key, held_by) == held_by for key, held_by in claims}

    async def release(self, key: str, application_id: str) -> None:
        if self.holders.get(key) == application_id:
            del self.holders[key]


class InMemoryApplicationStore:
    """The fast fake of the application store."""

    def __init__(self) -> None:
        self.applications: InMemoryAggregates[Application] = InMemoryAggregates(Application)
        self.claims = InMemoryClaims()
        self.erasures: InMemoryAggregates[Erasure] = InMemoryAggregates(Erasure)
