"""Small versions of the fault scenarios (the full sizes run with `make chaos`): the audit must hold."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from services.simulator import chaos
from services.simulator.processes import ServiceProcesses
from shared.settings import Settings
from tests.servers import TEST_STACK, Endpoints

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def scenario_settings(settings: Settings) -> Settings:
    """A namespace and databases of the scenario's own."""
    run = f"{settings.namespace}c{uuid.uuid4().hex[:6]}"
    return msgspec.structs.replace(settings, namespace=run, database_prefix=run)


@pytest.fixture
async def system(scenario_settings: Settings, tmp_path: Path) -> AsyncIterator[ServiceProcesses]:
    processes = await chaos.prepare(scenario_settings, tmp_path)
    try:
        yield processes
    finally:
        processes.stop()


def server_environment(endpoints: Endpoints) -> dict[str, str]:
    """The environment the local server scripts need to stop and start the servers under test."""
    if endpoints.source == "testcontainers":
        pytest.skip(
            "restarting a server is scripted for the local servers; with Docker, restart the container"
        )
    return dict(os.environ) | (TEST_STACK if endpoints.source == "local servers" else {})


def assert_holds(result: chaos.Result) -> None:
    broken = [f"{c.name}: {c.detail}" for c in result.report.checks if not c.ok]
    assert result.ok, f"{result.scenario}: {result.completed}/{result.expected}; broken: {broken}"


async def test_killing_services_with_sigkill_loses_and_duplicates_nothing(
    scenario_settings: Settings, system: ServiceProcesses
) -> None:
    result = await chaos.kill_services(scenario_settings, system, lifecycles=60, every=2.0)
    assert result.faults >= 2
    assert_holds(result)


@pytest.mark.parametrize("server", ["kafka", "ferretdb"])
async def test_a_server_restart_mid_run_loses_nothing_and_the_run_recovers(
    scenario_settings: Settings, system: ServiceProcesses, endpoints: Endpoints, server: str
) -> None:
    result = await chaos.restart_server(
        scenario_settings, server, lifecycles=60, environment=server_environment(endpoints), after=4.0
    )
    assert_holds(result)
    recovery = result.recovery_seconds[1]  # seconds from the server being back to the next lifecycle done
    assert recovery < 30, f"no lifecycle completed within 30 s of {server} being back"


async def test_a_thousand_bad_inputs_are_all_set_aside_while_lifecycles_complete(
    scenario_settings: Settings, system: ServiceProcesses
) -> None:
    assert_holds(await chaos.poison(scenario_settings, lifecycles=30, bad=1000))


async def test_candidates_racing_for_seats_with_two_placement_replicas_get_exactly_the_seats(
    scenario_settings: Settings, system: ServiceProcesses
) -> None:
    assert_holds(await chaos.race(scenario_settings, system, candidates=40, seats=10))
