"""Small versions of the fault scenarios (the full sizes run with `make chaos`): the audit must hold."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from services.simulator import chaos
from services.simulator.processes import ROOT, ServiceProcesses
from shared.settings import Settings
from tests.fuzz import drawn
from tests.hostile_inputs import NAMES
from tests.servers import Endpoints, printed_settings, server_environment

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


def assert_holds(result: chaos.Result) -> None:
    broken = [f"{c.name}: {c.detail}" for c in result.report.checks if not c.ok]
    assert result.ok, f"{result.scenario}: {result.completed}/{result.expected}; broken: {broken}"


async def test_killing_services_with_sigkill_loses_and_duplicates_nothing(
    scenario_settings: Settings, system: ServiceProcesses
) -> None:
    result = await chaos.kill_services(scenario_settings, system, lifecycles=300, every=1.0)
    assert result.faults >= 3, f"only {result.faults} kills landed during the run"
    assert_holds(result)


@pytest.mark.parametrize("server", ["kafka", "ferretdb"])
async def test_a_server_restart_mid_run_loses_nothing_and_the_run_recovers(
    scenario_settings: Settings, system: ServiceProcesses, endpoints: Endpoints, server: str
) -> None:
    result = await chaos.restart_server(
        scenario_settings, server, lifecycles=300, environment=server_environment(endpoints), after=3.0
    )
    assert result.faults == 1, f"{server} was not restarted mid-run (same process, or the run was over)"
    assert_holds(result)
    recovery = result.recovery_seconds[1]  # seconds from the server being back to the next lifecycle done
    assert recovery < 30, f"no lifecycle completed within 30 s of {server} being back"


async def test_a_thousand_bad_inputs_are_all_set_aside_while_lifecycles_complete(
    scenario_settings: Settings, system: ServiceProcesses
) -> None:
    assert_holds(await chaos.poison(scenario_settings, lifecycles=30, bad=1000))


async def test_four_hundred_drawn_hostile_inputs_each_end_applied_xor_dead_lettered_while_lifecycles_complete(
    scenario_settings: Settings, system: ServiceProcesses
) -> None:
    inputs = list(drawn(400, seed_=11))  # the same bytes every run: replay with tests.fuzz.drawn(400, 11)
    assert_holds(await chaos.fuzz(scenario_settings, lifecycles=30, inputs=inputs, names=NAMES))


async def test_candidates_racing_for_seats_with_two_placement_replicas_get_exactly_the_seats(
    scenario_settings: Settings, system: ServiceProcesses
) -> None:
    assert_holds(await chaos.race(scenario_settings, system, candidates=40, seats=10))


@pytest.mark.timeout(
    480
)  # a hang detector: three nodes to boot with new certificates, then a run (246 s here)
async def test_killing_the_partition_leader_of_a_three_broker_cluster_loses_no_acknowledged_event(
    scenario_settings: Settings, endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a cluster of its own each run: one restarted on a former run's quorum state may fail to start (seen
    # once here: a node's raft thread stopped on a vote response from an epoch it no longer knew)
    monkeypatch.setenv("KAFKA_CLUSTER_STATE", str(tmp_path / "cluster"))  # for the scenario's kills too
    environment = server_environment(endpoints)
    cluster = ROOT / "deploy" / "local" / "kafka-cluster.sh"
    try:
        up = await asyncio.to_thread(
            subprocess.run, ["bash", str(cluster), "up"], env=environment, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert up.returncode == 0, f"the three-broker cluster did not start:\n{up.stderr[-2000:]}"
        found = printed_settings(up.stdout)  # its own CA and users
        settings = msgspec.structs.replace(
            scenario_settings,
            kafka_bootstrap_servers=found["KAFKA_BOOTSTRAP_SERVERS"],
            kafka_ssl_cafile=found["KAFKA_SSL_CAFILE"],
            kafka_passwords_file=found["ENVOL_KAFKA_PASSWORDS"],
            topic_replication=3,
        )
        processes = await chaos.prepare(settings, tmp_path)
        try:
            result = await chaos.kill_leader(settings, lifecycles=240, after=3.0)
        finally:
            processes.stop()
    finally:  # also when it did not start: a node that did is stopped
        await asyncio.to_thread(
            subprocess.run, ["bash", str(cluster), "down"], env=environment, capture_output=True, timeout=120
        )
    assert result.faults == 1, "the leader was not killed during the run"
    assert_holds(result)
