"""Play the outside systems against the running services until every persona reaches its expected stage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.cli.stages import stages
from services.simulator.personas import Persona, intake_of, opening_facts, reactions
from shared.contracts.codec import decode, encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.settings import Settings

EVENT_TOPICS = (
    Topic.APPLICATION_EVENTS,
    Topic.VETTING_EVENTS,
    Topic.PLACEMENT_EVENTS,
    Topic.DEPARTURE_EVENTS,
)


class Outside:
    """The portal, providers, hosts and agents: a plain producer and a consumer of the services' events."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        self.consumer = AIOKafkaConsumer(
            *(settings.topic(t) for t in EVENT_TOPICS),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )

    async def __aenter__(self) -> Outside:
        await self.producer.start()
        await self.consumer.start()
        for partition in self.consumer.assignment():
            await self.consumer.position(partition)  # listen from now, before sending anything
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def send(self, facts: Iterable[Event]) -> None:
        """Send facts to their intake topics, keyed by subject, and wait for the broker's acks."""
        sent = [
            await self.producer.send(self.settings.topic(intake_of(f)), encode(f), key=f.subject_id.encode())
            for f in facts
        ]
        await asyncio.gather(*sent)

    async def events(self) -> list[Event]:
        """Return the services' events written since the last call."""
        batch = await self.consumer.getmany(timeout_ms=200)
        return [
            decode(self.settings.contract_topic(r.topic), r.value)
            for records in batch.values()
            for r in records
        ]


async def play(
    settings: Settings, openings: Sequence[Event], personas: Sequence[Persona], *, seconds: float = 120.0
) -> dict[str, str]:
    """Drive every persona through its lifecycle; return each application's stage at the end."""
    by_application = {p.application.application_id: p for p in personas}
    seen: list[Event] = []
    async with Outside(settings) as outside:
        await outside.send(openings)
        await outside.send(f for p in personas if p.applies_after is None for f in opening_facts(p))
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            for event in await outside.events():
                seen.append(event)
                application_id = getattr(event, "application_id", None)
                persona = by_application.get(application_id or "")
                if persona is None:
                    continue
                await outside.send(reactions(persona, event))
                if event.event_type == "PlacementProposed":
                    waiting = [p for p in personas if p.applies_after == application_id]
                    await outside.send(f for p in waiting for f in opening_facts(p))
            reached = stages(seen)
            if all(reached.get(a) == p.expected_stage for a, p in by_application.items()):
                break
    reached = stages(seen)
    return {a: reached.get(a, "none") for a in by_application}
