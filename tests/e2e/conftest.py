"""The running system: topics created, the four services started as processes, an observer on every topic."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from services.provision import provision
from services.simulator.processes import ServiceProcesses
from shared import samples
from shared.settings import Settings
from tests.observer import Observer


@pytest.fixture(scope="session")
async def services(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcesses]:
    """The four services, each its own process on the real servers, for the whole session."""
    await provision(settings)
    processes = ServiceProcesses(settings, Path(tmp_path_factory.mktemp("service-logs")))
    try:
        processes.start()
        yield processes
    finally:
        processes.stop()


@pytest.fixture(autouse=True)
def region_of_its_own(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's sample openings and wishes in a region of its own. The services run once for the session,
    in one namespace: a seat another test left free would take this test's waiting candidate, and a candidate
    another test left waiting would take this test's seat (in CI, in one random order of the tests)."""
    monkeypatch.setattr(samples, "REGION", f"{samples.REGION} {zlib.crc32(request.node.nodeid.encode()):08x}")


@pytest.fixture
async def observer(settings: Settings, services: ServiceProcesses) -> AsyncIterator[Observer]:
    """Every event written from now on, decoded."""
    async with Observer(settings) as seen:
        yield seen


@pytest.fixture
def show_logs_on_failure(services: ServiceProcesses, request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for name in services.processes:
            print(f"--- {name} ---\n{services.tail(name)}")
