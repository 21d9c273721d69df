"""Explore schedules: `python -m tests.simulation -n 100000 [--start 0] [--jobs 2] [--legacy] [--erasing]
[--selecting]`, or replay one: `python -m tests.simulation --seed S [--trace] [--erasing] [--selecting]`."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Iterator

from tests.simulation.legacy import before_the_fix
from tests.simulation.schedule import FULL, Result, simulate


def _run(job: tuple[int, bool, bool, bool, bool]) -> Result:
    seed, legacy, trace, erasing, selecting = job
    with before_the_fix() if legacy else contextlib.nullcontext():
        return simulate(seed, volunteers=FULL, trace=trace, erasing=erasing, selecting=selecting)


def explore(
    seeds: range, legacy: bool, jobs: int, trace: bool = False, erasing: bool = False, selecting: bool = False
) -> Iterator[Result]:
    """The result of each seed's schedule, in order."""
    work = [(seed, legacy, trace, erasing, selecting) for seed in seeds]
    if jobs == 1:
        yield from map(_run, work)
        return
    with multiprocessing.Pool(jobs) as pool:
        yield from pool.imap(_run, work, chunksize=50)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation", description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="schedules to explore (seeds start, start+1, ...)")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--seed", type=int, help="replay this one schedule and show its checks")
    parser.add_argument("--jobs", type=int, default=1, help="processes to explore with")
    parser.add_argument("--trace", action="store_true", help="with --seed: print every await point")
    parser.add_argument("--legacy", action="store_true", help="on the outbox of 400ff2d (before 3a34adb)")
    parser.add_argument(
        "--erasing", action="store_true", help="one volunteer of each schedule erased on the way"
    )
    parser.add_argument(
        "--selecting",
        action="store_true",
        help="three more volunteers apply to a partner's opening that selects; its host and the agency "
        "choose one, one withdraws once applied",
    )
    args = parser.parse_args(argv)
    seeds = (
        range(args.seed, args.seed + 1) if args.seed is not None else range(args.start, args.start + args.n)
    )
    started = time.perf_counter()
    points = steps = 0
    faults: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for n, result in enumerate(
        explore(
            seeds, args.legacy, args.jobs, args.trace and args.seed is not None, args.erasing, args.selecting
        ),
        1,
    ):
        points, steps = points + result.points, steps + result.steps
        faults.update(result.faults)
        for check in result.failures:
            failed[check.name] += 1
            print(f"FAIL seed {result.seed}: {check.name}: {check.detail}", flush=True)
        if args.seed is not None:
            print("\n".join(result.trace or []))
            print(f"seed {result.seed}: {'ok' if result.ok else 'FAILED'}; faults {dict(result.faults)}")
        if n % 10_000 == 0:
            print(f"... {n} schedules, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    kinds = ", ".join(f"{faults[k]} {k}" for k in ("crash", "zombie", "rebalance", "transient"))
    print(
        f"schedules explored: {len(seeds)}; faults injected: {sum(faults.values())} ({kinds}); "
        f"await points: {points}; scheduler steps: {steps}; failures: {sum(failed.values())} "
        f"{dict(failed) or ''}; time: {seconds:.1f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
