"""An in-memory Kafka log: topics of partitions, keys to partitions by a stable hash, committed offsets."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable

import msgspec


class LogRecord(msgspec.Struct, frozen=True):
    """One record as a consumer reads it; `timestamp` is the log's append sequence (no wall clock)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: tuple[tuple[str, bytes], ...] = ()


class Log:
    """Every topic's partitions, and each consumer group's committed offsets."""

    def __init__(self, topics: Iterable[str], partitions: int, salt: int) -> None:
        self.partitions = partitions
        self.salt = salt.to_bytes(4, "big")  # which keys share a partition varies with the schedule
        self.topics: dict[str, list[list[LogRecord]]] = {t: [[] for _ in range(partitions)] for t in topics}
        self.committed: dict[tuple[str, str, int], int] = {}  # (group, topic, partition) -> next offset
        self.appended = 0
        self.on_append: Callable[[str], None] = lambda topic: None

    def partition_of(self, key: bytes | None) -> int:
        """The partition of a key: a stable hash (records without a key go to partition 0)."""
        return 0 if key is None else zlib.crc32(self.salt + key) % self.partitions

    def append(
        self, topic: str, key: bytes | None, value: bytes | None, headers: dict[str, str] | None = None
    ) -> LogRecord:
        """Append a record to its key's partition, stamped with the next sequence number."""
        partition = self.topics[topic][self.partition_of(key)]
        self.appended += 1
        encoded = tuple((k, v.encode()) for k, v in (headers or {}).items())
        record = LogRecord(topic, self.partition_of(key), len(partition), key, value, self.appended, encoded)
        partition.append(record)
        self.on_append(topic)
        return record

    def read(self, topic: str, partition: int, start: int, limit: int) -> list[LogRecord]:
        """Up to `limit` records of a partition from offset `start`."""
        return self.topics[topic][partition][start : start + limit]

    def end(self, topic: str, partition: int) -> int:
        """The offset the next record of the partition will get."""
        return len(self.topics[topic][partition])

    def position(self, group: str, topic: str, partition: int) -> int:
        """Where a group resumes a partition: its committed offset, else the start (`earliest`)."""
        return self.committed.get((group, topic, partition), 0)

    def lag(self, group: str, topics: Iterable[str]) -> int:
        """How many records of `topics` the group has not committed."""
        return sum(
            self.end(t, p) - self.position(group, t, p) for t in topics for p in range(self.partitions)
        )

    def records(self) -> list[LogRecord]:
        """Every record of every topic, in the order appended."""
        found = [r for partitions in self.topics.values() for part in partitions for r in part]
        return sorted(found, key=lambda r: r.timestamp)
