"""A volunteer's erasure on the real servers, the four services as processes: one erased mid-lifecycle, one
after arrival; then every topic and every database of the run is read for their personal values.

The run has a namespace of its own (and its own service processes): an erasure deletes other volunteers'
older records on the partitions it cuts, which the other end-to-end tests' topic scans would miss.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from services.cli.app import cli
from services.cli.failures import ExitCode
from services.cli.lag import settle
from services.cli.reading import records
from services.grants import AUDITOR, ERASER, OPERATOR, SERVICES
from services.provision import provision
from services.simulator.processes import ServiceProcesses, service_environment
from shared import samples
from shared.contracts import application as app
from shared.contracts import departure as dep
from shared.contracts import placement as pl
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.intake import intake_of
from shared.contracts.partner import PlacementErased, PlacementStatus, PlacementUpdated
from shared.contracts.topics import TOPICS, Topic
from shared.mongo import mongo_client
from shared.settings import Settings
from tests.e2e.test_lifecycle import accept, send, travel
from tests.kafka import produce
from tests.observer import Observer


@pytest.fixture(scope="module")
async def erasing(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    """A namespace and databases of its own, provisioned, with the four services running on them."""
    own = msgspec.structs.replace(
        settings, namespace=f"{settings.namespace}-erase", database_prefix=f"{settings.database_prefix}erase"
    )
    await provision(own)
    processes = ServiceProcesses(own, Path(tmp_path_factory.mktemp("erasure-logs")))
    try:
        processes.start(*SERVICES)
        yield own
    finally:
        processes.stop()


def person(run: str, name: str, born: dt.date) -> app.ApplicationSubmitted:
    """An applicant whose personal values appear nowhere else in the run (a random name, email, phone)."""
    secret = "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])
    return samples.submitted(
        f"{run}-{name}",
        volunteer_fields={
            "volunteer_id": f"{run}-vol-{name}",
            "given_name": f"Given{secret}",
            "family_name": f"Family{secret}",
            "email": f"{secret}@example.org",
            "phone": f"+51 9{int(secret.encode().hex(), 16) % 10**8:08d}",
            "birth_date": born,
        },
    )


def personal_values(application: app.ApplicationSubmitted) -> list[str]:
    volunteer = application.volunteer
    assert volunteer.phone is not None
    return [volunteer.given_name, volunteer.family_name, volunteer.email, volunteer.phone,
            volunteer.birth_date.isoformat()]  # fmt: skip


async def on_topics(settings: Settings, values: Iterable[str]) -> dict[str, int]:
    """How many records of every topic of the run (partners' and dead letters included) hold each value,
    in their key, their bytes or a header."""
    found = dict.fromkeys(values, 0)
    async for record in records(settings, [settings.topic(t) for t in TOPICS]):
        held = b" ".join([record.key or b"", record.value or b"", *(v or b"" for _, v in record.headers)])
        for value in found:
            found[value] += value.encode() in held
    return found


async def in_databases(settings: Settings, values: Iterable[str]) -> dict[str, int]:
    """How many documents of every collection of the four services' databases hold each value."""
    found = dict.fromkeys(values, 0)
    client = mongo_client(settings, "envol-erasure-test")
    try:
        for service in SERVICES:
            database = client[settings.database(service)]
            for collection in await database.list_collection_names():
                async for document in database[collection].find({}):
                    held = json.dumps(document, default=str)
                    for value in found:
                        found[value] += value in held
    finally:
        await client.close()
    return found


def envol(settings: Settings, *arguments: str, principal: str = OPERATOR) -> Any:
    """Run `envol … --json` as an operator would: the operator's Kafka principal (or the eraser's), the
    auditor's database user; return what it printed, decoded, and its exit code."""
    environment = service_environment(settings) | {"KAFKA_USERNAME": principal, "MONGODB_USERNAME": AUDITOR}
    result = CliRunner().invoke(cli, [*arguments, "--json"], env=environment)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return json.loads(result.stdout), result.exit_code


def refused(settings: Settings, *arguments: str) -> tuple[int, str]:
    """Run the `envol` command as an operator; return its exit code and what it said on stderr."""
    environment = service_environment(settings) | {"KAFKA_USERNAME": OPERATOR, "MONGODB_USERNAME": AUDITOR}
    envol_script = Path(sys.executable).parent / "envol"
    ran = subprocess.run(
        [envol_script, *arguments], env=environment, capture_output=True, text=True, timeout=300
    )
    return ran.returncode, ran.stderr


def stamps(seen: Observer, kind: type[Event], volunteer_id: str) -> list[int]:
    return [
        record.timestamp
        for topic, record in seen.seen
        if record.key == volunteer_id.encode() and f'"{kind.__name__}"'.encode() in record.value
    ]


async def test_two_erased_volunteers_leave_no_readable_value_and_the_others_go_on(erasing: Settings) -> None:
    settings, run = erasing, erasing.namespace
    opening = samples.opening(f"{run}-erasure-tarapoto", seats=3)
    midway = person(run, "midway", dt.date(2003, 1, 17))  # confirmed, half of the checklist done
    arrived = person(run, "arrived", dt.date(2003, 2, 19))  # on site
    other = person(run, "other", dt.date(2003, 3, 23))  # confirmed; travels once the two are erased
    waiting = person(run, "waiting", dt.date(2003, 4, 25))  # waits for a seat; gets one freed by an erasure
    erased = (midway, arrived)
    async with Observer(settings) as seen:
        await send(settings, samples.published(opening))
        for applicant in (midway, arrived, other):
            await send(settings, applicant, *samples.all_screenings(applicant))
            await accept(settings, seen, applicant)
        await send(settings, *samples.checklist(midway)[:3])
        await travel(settings, seen, arrived)
        arrived_on = seen.of(pl.PlacementConfirmed, application_id=arrived.application_id)[0].placement_id  # type: ignore[attr-defined]
        by_placement = samples.placement_reported(  # keyed by the placement: names no volunteer
            arrived_on, opening.host_organisation, dep.HostReport.EXTENDED, end_date=dt.date(2027, 9, 30)
        )
        await send(settings, by_placement)
        await seen.wait_for(app.TransitionRefused, refused_event_id=by_placement.event_id)  # past 12 months
        await send(settings, waiting, *samples.all_screenings(waiting))
        await seen.wait_for(pl.PlacementAwaited, application_id=waiting.application_id)
        # copies keyed wrongly: dead letters that hold the bodies, one of an erased volunteer, one not
        wrongly_keyed = [(settings.topic(Topic.APPLICATION_INTAKE), b"someone-else", encode(a))
                         for a in (midway, other)]  # fmt: skip
        await produce(settings, wrongly_keyed)
        await seen.wait_until(lambda: len([t for t, _ in seen.seen if t == Topic.DEAD_LETTER]) >= 2, 30,
                              "two dead letters")  # fmt: skip
        assert await settle(settings, 60) == dict.fromkeys(SERVICES, 0)

        values = [value for applicant in erased for value in personal_values(applicant)]
        before_topics, before_stores = await on_topics(settings, values), await in_databases(settings, values)
        assert all(before_topics.values()), before_topics
        # and no store keeps them: a service keeps ids and what its rules still need, and the application's
        # outbox forgets its copy of the received application once the broker has it
        assert not any(before_stores.values()), before_stores

        for applicant in erased:
            asked = ("erase", applicant.subject_id, "--yes", "--timeout", "60")
            if applicant is midway:  # an operator may ask it, but the broker refuses them the deletions
                code, said = await asyncio.to_thread(refused, settings, *asked)
                assert code == ExitCode.CONFIGURATION and "Authorization" in said, (code, said)
            report, code = await asyncio.to_thread(partial(envol, principal=ERASER), settings, *asked)
            assert code == 0 and report["done"], json.dumps(report, indent=1)
            assert report["status"]["applications"] == [applicant.application_id]
            confirmed = seen.of(pl.PlacementConfirmed, application_id=applicant.application_id)
            assert report["status"]["placements"] == [confirmed[0].placement_id], report["status"]  # type: ignore[attr-defined]
        again, code = await asyncio.to_thread(partial(envol, principal=ERASER), settings, *asked)  # arrived's
        cut = {(c["topic"], c["theirs"]) for c in again["purge"]["cuts"]}  # only the new request itself
        assert (
            code == 0 and again["done"] and cut == {(settings.topic(Topic.APPLICATION_INTAKE_AGENCY), 1)}
        ), again
        latencies = [
            (max(stamps(seen, app.ErasureCompleted, a.subject_id))
             - min(stamps(seen, app.ErasureRequested, a.subject_id))) / 1000
            for a in erased
        ]  # fmt: skip

        after_topics, after_stores = await on_topics(settings, values), await in_databases(settings, values)
        print(f"\nerasure latency (request to the last ErasureCompleted): {latencies} s")
        print(f"records holding their values before: {sum(before_topics.values())}, after: "
              f"{sum(after_topics.values())}; documents before: {sum(before_stores.values())}, after: "
              f"{sum(after_stores.values())}")  # fmt: skip
        assert not any(after_topics.values()) and not any(after_stores.values()), (after_topics, after_stores)
        reports = [r async for r in records(settings, [settings.topic(Topic.DEPARTURE_INTAKE_HOST)])]
        assert not [r for r in reports if r.key == arrived_on.encode()]  # the report by placement id is cut
        for applicant in erased:
            report, code = await asyncio.to_thread(envol, settings, "erasure", "status", applicant.subject_id)
            assert code == 0 and report["done"] and report["records_on_topics"] == 0, report
        audited, _ = await asyncio.to_thread(envol, settings, "audit")
        checks = {check["name"]: check for check in audited["checks"]}
        print("audit after the erasures:", {name: (c["ok"], c["detail"]) for name, c in checks.items()})
        erasures = checks["erased volunteers left nothing on the topics or in the stores"]
        assert erasures["ok"] and erasures["detail"].startswith("2 erased volunteers;"), erasures
        assert audited["missed"] > 0  # the cut partitions: the audit says their older records are gone

        # partners were told to forget both references; no letter of another volunteer was lost
        notices = {e.placement_id for e in seen.of(PlacementErased)}  # type: ignore[attr-defined]
        assert len(notices) == 2, notices
        letters = [r async for r in records(settings, [settings.topic(Topic.DEAD_LETTER)])]
        assert any(f'"{other.subject_id}"'.encode() in r.value for r in letters)

        # the others go on: the waiting one gets a freed seat, the other one travels and arrives
        await accept(settings, seen, waiting)
        await travel(settings, seen, other)
        placement_of_other = seen.of(pl.PlacementConfirmed, application_id=other.application_id)[0]
        await seen.wait_until(
            lambda: seen.of(PlacementUpdated, placement_id=placement_of_other.placement_id,  # type: ignore[attr-defined]
                            status=PlacementStatus.ARRIVED), 30, "the other one's arrival")  # fmt: skip

        # their old facts, replayed from outside, re-create nothing and send nothing
        published = len(seen.events)
        on_site = samples.on_site(arrived, dep.CivicTrainingAttended)
        replayed = [midway, *samples.all_screenings(midway), *samples.checklist(midway), arrived,
                    samples.departed(arrived), on_site]  # fmt: skip
        await produce(
            settings, [(settings.topic(intake_of(f)), f.subject_id.encode(), encode(f)) for f in replayed]
        )
        assert await settle(settings, 60) == dict.fromkeys(SERVICES, 0)
        assert not any((await in_databases(settings, values)).values())
        news = [e for _, e in seen.events[published:] if e.subject_id in {a.subject_id for a in erased}]
        kinds = {e.event_type for e in news} - {e.event_type for e in replayed}
        assert kinds <= {"ErasureCompleted"}, kinds  # copies of the news only, never a re-created case
        for applicant in erased:
            report, _ = await asyncio.to_thread(envol, settings, "erasure", "status", applicant.subject_id)
            assert report["done"], report
