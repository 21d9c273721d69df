"""The local database server's processes and the CPU they use, for `make bench`: FerretDB, and under it
PostgreSQL when FerretDB runs on it (`FERRETDB_BACKEND=postgresql`, deploy/local/postgres.sh). Found from
the local scripts' pid files; a server they did not start (a managed MongoDB) is not measured."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from services.simulator.processes import ROOT

BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def backend() -> str:
    """The storage FerretDB runs on, as `deploy/local/infra.sh up` says (SQLite unless told)."""
    return os.environ.get("FERRETDB_BACKEND") or "sqlite"


def database_pids() -> list[int]:
    """The pids of the database server's main processes (PostgreSQL's postmaster, whose backends are its
    children), or none when this checkout's scripts did not start it."""
    state = Path(os.environ.get("ENVOL_STATE") or ROOT / ".local-infra")
    pids = []
    pidfile = state / "ferretdb" / "ferretdb.pid"
    if pidfile.is_file():
        pids.append(int(pidfile.read_text().split()[0]))
    if backend() == "postgresql":
        found = subprocess.run(
            ["bash", str(ROOT / "deploy" / "local" / "postgres.sh"), "pid"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        pids += [int(found.stdout.split()[0])] if found.returncode == 0 and found.stdout.strip() else []
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user + system) these processes and all their children have used: the live ones', and
    those of children already gone (counted in their parent once reaped)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue  # gone meanwhile
    ticks, todo = 0, list(pids)
    while todo:
        pid = todo.pop()
        try:
            fields = _stat(pid)
        except OSError:
            continue
        ticks += sum(int(fields[n]) for n in (11, 12, 13, 14))  # utime, stime, cutime, cstime
        todo += children.get(pid, [])
    return ticks / os.sysconf("SC_CLK_TCK")
