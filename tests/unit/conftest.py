"""In-memory fixtures: TestKafkaBroker numbered like a real log."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from faststream.kafka import testing


@pytest.fixture(autouse=True)
def numbered_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each record of TestKafkaBroker the next offset of its partition (it gives every record 0; a
    real log numbers them, and the consume protocol recognises a redelivery by its offset)."""
    counters: defaultdict[tuple[str, int], Iterator[int]] = defaultdict(itertools.count)

    def numbered(build: Callable[..., Any]) -> Callable[..., Any]:
        def number(record: Any) -> Any:
            return dataclasses.replace(record, offset=next(counters[(record.topic, record.partition)]))

        if build is testing._build_record:
            return lambda *args, **kwargs: number(build(*args, **kwargs))

        async def built(*args: Any, **kwargs: Any) -> Any:
            return number(await build(*args, **kwargs))

        return built

    monkeypatch.setattr(testing, "_build_record", numbered(testing._build_record))
    monkeypatch.setattr(testing, "build_message", numbered(testing.build_message))
