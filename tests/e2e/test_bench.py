"""`make bench` in miniature, so the benchmark command keeps working: every run it reports completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.simulator.processes import ROOT
from tests.servers import Endpoints

pytestmark = pytest.mark.timeout(420)


@pytest.fixture
def plaintext_broker(tmp_path: Path) -> Iterator[str]:
    """A second broker, without TLS, SASL or ACLs, as `make bench` starts one to measure what they cost."""
    script = ROOT / "deploy" / "local" / "kafka.sh"
    environment = os.environ | {
        "ENVOL_STATE": str(tmp_path / "plaintext"), "KAFKA_PLAINTEXT": "1",
        "KAFKA_PORT": "19192", "KAFKA_CONTROLLER_PORT": "19193",
    }  # fmt: skip
    started = subprocess.run(["bash", str(script), "start"], env=environment, capture_output=True, text=True)
    assert started.returncode == 0, f"the plaintext broker did not start:\n{started.stderr[-2000:]}"
    try:
        yield "127.0.0.1:19192"
    finally:
        subprocess.run(["bash", str(script), "stop"], env=environment, capture_output=True)


def test_the_benchmark_runs_every_part_and_writes_its_figures(
    endpoints: Endpoints, plaintext_broker: str, tmp_path: Path
) -> None:
    environment = endpoints.environment()
    command = [sys.executable, "-m", "services.simulator.bench", "-n", "6", "--pairs", "1",
               "--latency-seconds", "4", "--scaling", "1,2", "--out", str(tmp_path / "out"),
               "--plaintext", plaintext_broker]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=380)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "median ratio system/baseline" in done.stdout and "p99 ratio system/baseline" in done.stdout
    assert "median ratio secured/plaintext" in done.stdout and "What metrics and tracing cost" in done.stdout
    targets = done.stdout[done.stdout.index("Targets") :]
    assert all(asked in targets for asked in ("CPU per consumed", "batching relay", "p99", "replicas"))
    assert "not measured" not in targets  # every target this run asked for was measured
    assert all(f"Where {service}'s CPU goes" in done.stdout for service in ("application", "placement"))
    [written] = (tmp_path / "out").glob("bench-*.json")
    result = json.loads(written.read_text())
    kinds = [(run["kind"], run["offered"] is not None, run["replicas"]) for run in result["runs"]]
    assert kinds == [
        ("system", False, 1), ("baseline", False, 1), ("system, plaintext broker", False, 1),
        ("system, tracing on", False, 1), ("system, metrics and tracing off", False, 1),
        ("system", True, 1), ("baseline", True, 1),
        ("scaling", False, 1), ("scaling", False, 2), ("system, profiled", False, 1),
    ]  # fmt: skip
    assert all(run["messages"] > 0 and run["seconds"] > 0 for run in result["runs"])
    assert all(run["hop_seconds"]["p99"] > 0 for run in result["runs"] if run["offered"] is not None)
    assert result["database"].startswith(("FerretDB", "MongoDB"))
    profiled = result["runs"][-1]["profiles"]
    assert sorted(profiled) == ["application", "departure", "placement", "vetting"]
    assert all(p["samples"] > 0 and p["by_self"] and p["by_envol"] for p in profiled.values())


def test_the_long_run_plays_its_rounds_on_one_system_and_audits_the_whole(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "services.simulator.soak", "-n", "12", "--round", "4",
               "--out", str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env=endpoints.environment(), capture_output=True, text=True, timeout=380
    )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    [written] = (tmp_path / "out").glob("soak-*.json")
    result = json.loads(written.read_text())
    assert [r["lifecycles"] for r in result["rounds"]] == [4, 4, 4]
    assert result["audit_ok"] and result["database_bytes"] > 0, done.stdout[-3000:]
    assert set(result["tenths"]) == {"first", "middle", "last"}
    assert "first tenth of the rounds" in done.stdout and "holds" in done.stdout
