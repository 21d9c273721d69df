"""The ports the application handlers need, and their in-memory fakes."""

from __future__ import annotations

from typing import Protocol

from services.application.domain import Application, Erasure
from shared.aggregates import Aggregates
from shared.memory import InMemoryAggregates


class Claims(Protocol):
    """One open application per volunteer and scheme, enforced by unique keys."""

    async def claim(self, key: str, application_id: str) -> bool:
        """Claim `key` for the application; False when another application holds it."""

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

    async def claim(self, key: str, application_id: str) -> bool:
        return self.holders.setdefault(key, application_id) == application_id

    async def release(self, key: str, application_id: str) -> None:
        if self.holders.get(key) == application_id:
            del self.holders[key]


class InMemoryApplicationStore:
    """The fast fake of the application store."""

    def __init__(self) -> None:
        self.applications: InMemoryAggregates[Application] = InMemoryAggregates(Application)
        self.claims = InMemoryClaims()
        self.erasures: InMemoryAggregates[Erasure] = InMemoryAggregates(Erasure)
