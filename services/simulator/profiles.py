"""Where a service's CPU goes: py-spy samples each service process during a bench run, and the collapsed
stacks it writes are summed here into the functions that cost the most.

Two views of one profile: by *self* time (the innermost frame of each sample: where the interpreter was)
and by *Envol* time (the innermost frame of Envol's own code, `services/` or `shared/`, so a sample spent in
PyMongo or msgspec counts for the Envol function that called it).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from services.simulator.processes import ROOT

RATE = 250  # samples per second and process
OURS = re.compile(r"[(/\\](services|shared)[/\\]")  # a frame of Envol's packages
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")  # `function (path/file.py:line)`


# innermost frames of a thread that waits (py-spy, not pausing the process, cannot always tell it idle)
WAITING = {
    ("EpollSelector.select", "selectors.py"),
    ("Condition.wait", "threading.py"),
    ("_worker", "thread.py"),
}
LOOP = "(the event loop: I/O, timers, the drivers' own tasks)"


class Profile(msgspec.Struct, frozen=True):
    """One process's samples, and the costliest functions by self and by Envol time (waits left out)."""

    samples: int  # busy ones
    waiting: int
    by_self: list[tuple[str, int]]
    by_envol: list[tuple[str, int]]


def frame_name(frame: str) -> str:
    """`function (package/module.py)`: the frame without its line, its path cut to the last two parts."""
    found = FRAME.match(frame.strip())
    if found is None:
        return frame.strip()
    path = found["file"].replace("\\", "/").split("/")
    return f"{found['function']} ({'/'.join(path[-2:])})"


def _envol_frame(frames: list[str]) -> str:
    """The innermost frame of Envol's code in a stack; LOOP when that frame only runs the event loop (the
    sample is in the loop itself or a task of no Envol function)."""
    ours = [i for i, f in enumerate(frames) if OURS.search(f) and "-packages" not in f]
    if not ours:
        return "(outside Envol's code)"
    loop = max((i for i, f in enumerate(frames) if f.startswith("BaseEventLoop._run_once ")), default=-1)
    return LOOP if ours[-1] < loop else frame_name(frames[ours[-1]])


def waits(frame: str) -> bool:
    """Whether a thread whose innermost frame is this one waits (for I/O, for work)."""
    found = FRAME.match(frame.strip())
    return found is not None and (found["function"], re.split(r"[/\\]", found["file"])[-1]) in WAITING


def summarise(collapsed: Iterable[str], top: int = 8) -> Profile:
    """Sum collapsed stacks (`frame;frame;... count` per line, outermost first) into a Profile."""
    by_self: Counter[str] = Counter()
    by_envol: Counter[str] = Counter()
    samples = waiting = 0
    for line in collapsed:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames, n = stack.split(";"), int(count)
        if waits(frames[-1]):
            waiting += n
            continue
        samples += n
        by_self[frame_name(frames[-1])] += n
        by_envol[_envol_frame(frames)] += n
    return Profile(samples, waiting, by_self.most_common(top), by_envol.most_common(top))


@contextmanager
def sampling(pids: dict[str, int], folder: Path) -> Iterator[dict[str, Path]]:
    """Sample each process with py-spy while the block runs; yield where each one's stacks are written
    (complete once the block has ended)."""
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name.replace('#', '-')}.collapsed" for name in pids}
    command = [spy, "record", "--rate", str(RATE), "--format", "raw", "--nonblocking"]
    spies = [
        subprocess.Popen(
            [*command, "--pid", str(pid), "--output", str(files[name])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, pid in pids.items()
    ]
    try:
        yield files
    finally:
        for process in spies:
            process.send_signal(signal.SIGINT)  # py-spy writes what it sampled, then ends
        for process in spies:
            _, errors = process.communicate(timeout=60)
            if process.returncode not in (0, -signal.SIGINT) and not errors.strip().endswith(b"Stopped"):
                raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')[-500:]}")
