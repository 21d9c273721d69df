"""Each service's HTTP side: liveness, readiness and metrics, served beside the consumer by FastStream's ASGI
support (`AsgiFastStream`, run by uvicorn).

- `GET /health` answers 200 while the process and its event loop run (a hung loop answers nothing).
- `GET /ready` answers 200 when the service can do its work: the broker answers, the database answers, and
  the consumer has joined its group and received its assignment (possibly empty: a replica beyond the
  partition count is ready and idle). Else 503; the body says which check failed.
- `GET /metrics` is the Prometheus exposition: FastStream's middleware metrics and Envol's own
  (`shared.metrics`), with the process collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import msgspec
from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream.asgi import AsgiResponse, get
from faststream.asgi.handlers import HttpHandler
from faststream.asgi.types import Scope
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient

from shared import metrics

log = logging.getLogger("envol.health")

Stages = Callable[[], Awaitable[Mapping[str, int]]]  # how many volunteers are at each stage
CHECK_SECONDS = 2.0  # a check that takes longer counts as failed: a probe must answer before its timeout


class Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """The consumer's place in its group: joined (an assignment received) or not, and its partitions."""

    def __init__(self) -> None:
        self.joined = False
        self.partitions: frozenset[TopicPartition] = frozenset()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.joined = False  # a rebalance is under way
        for partition in revoked:
            with contextlib.suppress(KeyError):  # no batch of it consumed yet
                metrics.LAG.remove(partition.topic, str(partition.partition))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.joined = True
        self.partitions = frozenset(assigned)
        log.info("assigned %d partitions", len(assigned))


class Readiness(msgspec.Struct, frozen=True):
    """What each check found: "ok", or why not (an error class, "no answer", "not assigned")."""

    broker: str
    database: str
    consumer: str

    @property
    def ready(self) -> bool:
        return self.broker == self.database == self.consumer == "ok"


T = TypeVar("T")


async def within(work: Awaitable[T], seconds: float) -> T:
    """`work`'s result, or TimeoutError once `seconds` have passed, whatever the work does: work still running
    then is cancelled and left to end on its own (`asyncio.wait_for` waits for a cancelled task to end, and
    a driver may take long to), as it is when the caller itself is cancelled."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait({task}, timeout=seconds)
    finally:
        if not task.done():
            task.cancel()
            task.add_done_callback(_ended)
    if not task.done():
        raise TimeoutError(f"no answer within {seconds} s")
    return task.result()


def _ended(task: asyncio.Future[Any]) -> None:
    """Take what a cancelled task ended with, so that asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


async def _check(check: Awaitable[Any]) -> str:
    """Run one check: "ok", or what failed. The failure is the check's answer, reported in the body; the
    answer comes within CHECK_SECONDS."""
    try:
        answered = await within(check, CHECK_SECONDS)
    except Exception as error:
        return type(error).__name__
    return "ok" if answered else "no answer"


async def readiness(
    broker: KafkaBroker, database: AsyncMongoClient[dict[str, Any]], assignment: Assignment
) -> Readiness:
    """Check the broker, the database and the group membership at once."""
    broker_up, database_up = await asyncio.gather(
        _check(broker.ping(CHECK_SECONDS)), _check(database.admin.command("ping"))
    )
    return Readiness(broker_up, database_up, "ok" if assignment.joined else "not assigned")


def routes(
    broker: KafkaBroker,
    database: AsyncMongoClient[dict[str, Any]],
    assignment: Assignment,
    registries: tuple[CollectorRegistry, ...],
    stages: Stages | None = None,
) -> list[tuple[str, HttpHandler]]:
    """The `asgi_routes` of a service's AsgiFastStream."""

    @get(include_in_schema=False, description="Liveness: 200 while the process runs.")
    async def health(scope: Scope) -> AsgiResponse:
        return _json({"alive": True}, 200)

    @get(
        include_in_schema=False,
        description="Readiness: 200 when the broker and the database answer and the consumer is assigned.",
    )
    async def ready(scope: Scope) -> AsgiResponse:
        result = await readiness(broker, database, assignment)
        return _json({"ready": result.ready, **msgspec.to_builtins(result)}, 200 if result.ready else 503)

    @get(include_in_schema=False, description="Prometheus metrics.")
    async def metrics(scope: Scope) -> AsgiResponse:
        if stages is not None:
            await count_stages(stages)
        body = b"".join(generate_latest(registry) for registry in (REGISTRY, *registries))
        return AsgiResponse(body, 200, {"Content-Type": CONTENT_TYPE_LATEST})

    return [("/health", health), ("/ready", ready), ("/metrics", metrics)]


async def count_stages(stages: Stages) -> None:
    """Set the volunteers-per-stage gauge from the database; when it does not answer, the gauge is left as
    it was and the failure logged (the scrape still answers, with every other metric)."""
    try:
        counts = await within(stages(), CHECK_SECONDS)
    except Exception as error:
        log.warning("volunteers per stage not counted: %s", type(error).__name__)
        return
    metrics.STAGE.clear()
    for stage, count in counts.items():
        metrics.STAGE.labels(stage).set(count)


def _json(data: dict[str, Any], status: int) -> AsgiResponse:
    return AsgiResponse(msgspec.json.encode(data), status, {"Content-Type": "application/json"})
