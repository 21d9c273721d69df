"""Hop latencies from what the topics hold, for the system and the baseline alike. No I/O.

A hop is one consume → handle → produce: the time from a message's record timestamp to the timestamp of a
record it caused. For the system, an event's cause is named by its `causation_id`; for the baseline relay,
the same key one hop further down. Record timestamps are set by the producer when it sends.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence

from services.cli.reading import Seen
from shared.contracts.topics import INTAKES, Topic

OUTSIDE_TOPICS = frozenset({*INTAKES, Topic.DEAD_LETTER})


def system_hops(seen: Iterable[Seen]) -> list[float]:
    """Seconds from each cause's record to each service event it caused."""
    records = list(seen)
    sent_at = {s.event.event_id: s.timestamp for s in records if s.event is not None}
    return [
        (s.timestamp - sent_at[s.event.causation_id]).total_seconds()
        for s in records
        if s.event is not None
        and s.topic not in OUTSIDE_TOPICS
        and s.event.causation_id is not None
        and s.event.causation_id in sent_at
    ]


def relay_hops(hops: Sequence[dict[bytes, float]]) -> list[float]:
    """Seconds from a key's record on each hop topic to its record on the next (timestamps in seconds)."""
    return [
        later[key] - earlier[key]
        for earlier, later in itertools.pairwise(hops)
        for key in earlier.keys() & later.keys()
    ]


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """p50, p95 and p99 of the values (interpolated), in the values' unit; empty when there are none."""
    ordered = sorted(values)
    if not ordered:
        return {}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}
