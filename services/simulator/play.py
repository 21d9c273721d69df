"""Play the outside systems against the running services until every persona reaches its expected stage."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence

import msgspec
from aiokafka import AIOKafkaConsumer

from services.cli.stages import advance, application_of
from services.grants import OPERATOR
from services.simulator.personas import Persona, choice, choices, opening_facts, reactions
from shared.contracts.codec import decode, encode
from shared.contracts.departure import PlacementReported
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC, intake_of
from shared.contracts.placement import (
    CandidateSelected,
    OpeningPublished,
    PlacementProposed,
    ProposalAnswered,
)
from shared.contracts.topics import Topic
from shared.kafka import as_principal, client_options
from shared.renewal import RenewingProducer
from shared.retry import retry_in_place
from shared.settings import Settings

EVENT_TOPICS = (
    Topic.APPLICATION_EVENTS,
    Topic.VETTING_EVENTS,
    Topic.PLACEMENT_EVENTS,
    Topic.DEPARTURE_EVENTS,
)
Progress = Callable[[int, int], None]  # (lifecycles done, total)


class Outcome(msgspec.Struct):
    """What a run reached: each application's stage, when its lifecycle started and ended, events seen."""

    reached: dict[str, str]
    started: dict[str, float]
    finished: dict[str, float]
    events: int = 0
    seen: set[str] = msgspec.field(default_factory=set)  # identities of the events folded (copies skipped)

    def latencies(self) -> list[float]:
        """Seconds from each lifecycle's first fact to its final stage."""
        return sorted(self.finished[a] - self.started[a] for a in self.finished if a in self.started)


class Outside:
    """The portal, providers, hosts and agents: a plain producer each, as its own principal (replaced
    when the broker refuses it, `shared.renewal`), and an operator's consumer of the services' events."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hosts: dict[str, str] = {}  # opening, application or placement id -> its host organisation
        self.producers = {
            source: RenewingProducer(
                **client_options(as_principal(settings, source)),
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                max_request_size=2 * 1024 * 1024,
            )
            for source in sorted({intake.source for intake in INTAKE_OF_TOPIC.values()})
        }
        self.consumer = AIOKafkaConsumer(
            *(settings.topic(t) for t in EVENT_TOPICS),
            **client_options(as_principal(settings, OPERATOR)),
            auto_offset_reset="latest",
            enable_auto_commit=False,
            max_poll_records=2000,
        )

    def producer(self, topic: str) -> RenewingProducer:
        """The producer of the one source that writes an intake topic."""
        return self.producers[INTAKE_OF_TOPIC[topic].source]

    async def __aenter__(self) -> Outside:
        for producer in self.producers.values():
            await producer.start()
        await self.consumer.start()
        for partition in self.consumer.assignment():
            await self.consumer.position(partition)  # listen from now, before sending anything
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        for producer in self.producers.values():
            await producer.stop()

    def _host(self, fact: Event) -> str | None:
        """The host organisation a fact is about, as the outside world knows it: an opening's from its
        publication, a candidate's from its latest proposal (a partner host writes topics of its own)."""
        if isinstance(fact, OpeningPublished):
            self.hosts[fact.opening.opening_id] = fact.opening.host_organisation
        if isinstance(fact, CandidateSelected | ProposalAnswered):
            return self.hosts.get(fact.opening_id)
        if isinstance(fact, PlacementReported):
            return self.hosts.get(fact.placement_id)
        return self.hosts.get(getattr(fact, "application_id", ""))

    async def send(self, facts: Iterable[Event]) -> None:
        """Send facts to their intake topics, keyed by subject, and wait for the broker's acks; a broker
        restarting is waited for (a fact sent twice has one event id, so the services apply it once)."""
        addressed = [(f, intake_of(f, self._host(f))) for f in facts]

        async def attempt() -> None:
            sent = [
                await self.producer(topic).send(
                    self.settings.topic(topic), encode(f), key=f.subject_id.encode()
                )
                for f, topic in addressed
            ]
            await asyncio.gather(*sent)

        await retry_in_place(attempt, attempts=30, base_seconds=0.2)

    async def events(self) -> list[Event]:
        """Return the services' events written since the last call."""
        batch = await self.consumer.getmany(timeout_ms=200)
        events = [
            decode(self.settings.contract_topic(r.topic), r.value)
            for records in batch.values()
            for r in records
        ]
        for event in events:
            if isinstance(event, PlacementProposed):  # the host answers about the application, or the opening
                for known_by in (event.application_id, event.opening_id, event.placement_id):
                    self.hosts[known_by] = event.host_organisation
        return events


async def play(
    settings: Settings,
    openings: Sequence[Event],
    personas: Sequence[Persona],
    *,
    seconds: float = 120.0,
    rate: float | None = None,
    progress: Progress | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Drive every persona through its lifecycle, all at once or `rate` new lifecycles per second.

    Pass an `outcome` to watch the run's progress while it goes on."""
    by_application = {p.application.application_id: p for p in personas}
    outcome = outcome or Outcome(reached={}, started={}, finished={})
    planned_end: dict[str, dt.date] = {}  # each mission's last day, as its host knows it
    awaited: set[str] = set()  # the applications seen waiting for a seat
    chosen: set[str] = set()  # the applications a host has chosen
    done = 0
    async with Outside(settings) as outside:
        await outside.send(openings)
        first = [p for p in personas if p.applies_after is None]
        feeder = asyncio.create_task(_feed(outside, first, outcome, rate))
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and done < len(personas):
                replies: list[Event] = []
                for event in await outside.events():
                    outcome.events += 1
                    if event.identity in outcome.seen:
                        continue  # a republished copy: its stage and its replies are known already
                    outcome.seen.add(event.identity)
                    advance(outcome.reached, event)
                    application_id = application_of(event) or ""
                    persona = by_application.get(application_id)
                    if persona is None:
                        continue
                    if event.event_type in ("PlacementConfirmed", "MissionExtended"):
                        planned_end[application_id] = event.end_date  # type: ignore[attr-defined]
                    host = outside.hosts.get(application_id)
                    replies.extend(reactions(persona, event, planned_end.get(application_id), host))
                    if event.event_type == "PlacementProposed":
                        waiting = [p for p in personas if p.applies_after == application_id]
                        await _feed(outside, waiting, outcome, None)
                    if event.event_type == "PlacementAwaited":
                        awaited.add(application_id)
                        for picked in choices(personas, awaited):
                            if picked.application.application_id not in chosen:
                                chosen.add(picked.application.application_id)
                                replies.extend(choice(picked))
                    reached = outcome.reached.get(application_id) == persona.expected_stage
                    if reached and application_id not in outcome.finished:
                        outcome.finished[application_id] = time.monotonic()
                        done += 1
                        if progress:
                            progress(done, len(personas))
                await outside.send(replies)
        finally:
            feeder.cancel()
    return outcome


async def _feed(outside: Outside, personas: Sequence[Persona], outcome: Outcome, rate: float | None) -> None:
    """Send each persona's opening facts, at once or paced at `rate` lifecycles per second (open loop)."""
    if rate is None:
        now = time.monotonic()
        outcome.started.update((p.application.application_id, now) for p in personas)
        await outside.send(f for p in personas for f in opening_facts(p))
        return
    start = time.monotonic()
    for n, persona in enumerate(personas):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        outcome.started[persona.application.application_id] = time.monotonic()
        await outside.send(opening_facts(persona))
