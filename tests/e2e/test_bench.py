"""`make bench` in miniature, so the benchmark command keeps working: every run it reports completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.simulator.processes import ROOT
from tests.servers import Endpoints

pytestmark = pytest.mark.timeout(300)


def test_the_benchmark_runs_every_part_and_writes_its_figures(endpoints: Endpoints, tmp_path: Path) -> None:
    environment = os.environ | {"KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka, "MONGODB_URL": endpoints.mongodb}
    command = [sys.executable, "-m", "services.simulator.bench", "-n", "6", "--pairs", "1",
               "--latency-seconds", "4", "--scaling", "1,2", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "median ratio system/baseline" in done.stdout and "p99 ratio system/baseline" in done.stdout
    [written] = tmp_path.glob("bench-*.json")
    result = json.loads(written.read_text())
    kinds = [(run["kind"], run["offered"] is not None, run["replicas"]) for run in result["runs"]]
    assert kinds == [
        ("system", False, 1), ("baseline", False, 1), ("system", True, 1), ("baseline", True, 1),
        ("scaling", False, 1), ("scaling", False, 2),
    ]  # fmt: skip
    assert all(run["messages"] > 0 and run["seconds"] > 0 for run in result["runs"])
    assert all(run["hop_seconds"]["p99"] > 0 for run in result["runs"] if run["offered"] is not None)
    assert result["database"].startswith(("FerretDB", "MongoDB"))
