"""In-memory aggregates: the fake behind fast unit tests, with the same version checks as MongoDB."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import msgspec

from shared.aggregates import Record, from_document, to_document
from shared.retry import ConcurrentWriteError

S = TypeVar("S")


class InMemoryAggregates(Generic[S]):
    """Aggregates kept in a dict, stored as documents so the MongoDB mapping is exercised too."""

    def __init__(self, state_type: Any) -> None:
        self.state_type = state_type
        self.documents: dict[str, dict[str, Any]] = {}

    async def load(self, aggregate_id: str) -> Record[S]:
        return self._stored(aggregate_id)

    async def load_many(self, aggregate_ids: Sequence[str]) -> dict[str, Record[S]]:
        return {aggregate_id: self._stored(aggregate_id) for aggregate_id in aggregate_ids}

    def _stored(self, aggregate_id: str) -> Record[S]:
        document = self.documents.get(aggregate_id)
        return Record(id=aggregate_id) if document is None else from_document(document, self.state_type)

    async def save(self, record: Record[S]) -> Record[S]:
        stored = self.documents.get(record.id)
        if (stored["version"] if stored else 0) != record.version:
            raise ConcurrentWriteError(record.id)
        saved = msgspec.structs.replace(record, version=record.version + 1)
        self.documents[record.id] = _storable(to_document(saved))
        return saved

    async def save_many(self, records: Sequence[Record[S]]) -> list[Record[S]]:
        """Each record saved as `save` does, the others even if one is refused (a bulk write in any order)."""
        saved, refused = [], None
        for record in records:
            try:
                saved.append(await self.save(record))
            except ConcurrentWriteError as error:
                refused = error
        if refused is not None:
            raise refused
        return saved

    async def find(self, query: dict[str, Any]) -> Sequence[Record[S]]:
        return [
            from_document(document, self.state_type)
            for document in self.documents.values()
            if all(_matches(_field(document, path), value) for path, value in query.items())
        ]


def _matches(found: Any, value: Any) -> bool:
    """MongoDB's equality on a field: the value itself, or an element of an array that holds it."""
    return bool(found == value or (isinstance(found, list | tuple) and value in found))


def _storable(value: Any) -> Any:
    """Refuse what the servers refuse: a field name with a dot or a leading dollar sign (MongoDB), an array
    directly inside an array (FerretDB v1)."""
    if isinstance(value, dict):
        for name, inner in value.items():
            if "." in name or name.startswith("$"):
                raise ValueError(f"invalid field name {name!r}")
            _storable(inner)
    elif isinstance(value, list):
        for inner in value:
            if isinstance(inner, list):
                raise ValueError("nested arrays are not supported")
            _storable(inner)
    return value


def _field(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
