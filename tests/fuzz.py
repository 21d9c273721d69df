"""Hostile inputs drawn deterministically from a seed, and `make chaos-fuzz`: `python -m tests.fuzz -n N`.

The same seed and count give the same bytes (Hypothesis, seeded, generation phase only), so a failing
real-server run can be replayed exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from shared.contracts.topics import INTAKES
from tests import hostile_inputs as hostile
from tests.hostile_inputs import Hostile

CHUNK = 1000
PLACEHOLDER = 9_999_999  # as wide as every number it stands for


def renumbered(message: Hostile, n: int) -> Hostile:
    """The message with the ids of input `n` (where a mutation left the placeholder readable)."""
    old, new = str(PLACEHOLDER).encode(), f"{n:07d}".encode()
    key = message.key.replace(old, new) if message.key else message.key
    return msgspec.structs.replace(message, key=key, value=message.value.replace(old, new))


def drawn(count: int, seed_: int = 7, giants_every: int = 1) -> Iterator[Hostile]:
    """`count` hostile inputs for the intake topics, the same for the same seed; giant keys and bodies
    (100 KB, 256 KiB) only in one chunk of `giants_every` (to keep a long run's topics small)."""
    for chunk, start in enumerate(range(0, count, CHUNK)):
        hostile.GIANTS[0] = chunk % giants_every == 0
        try:
            yield from _chunk(seed_ * 1_000_003 + chunk, start, min(CHUNK, count - start))
        finally:
            hostile.GIANTS[0] = True


def _chunk(seed_: int, start: int, size: int) -> list[Hostile]:
    found: list[Hostile] = []

    @seed(seed_)
    @settings(
        max_examples=size, database=None, phases=[Phase.generate], deadline=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        topic = data.draw(st.sampled_from(INTAKES))
        message = hostile.draw_hostile(data.draw, topic, PLACEHOLDER)  # no draw may depend on outside state
        if len(found) < size:
            found.append(renumbered(message, start + len(found)))

    collect()
    return found


def main() -> None:
    """Run the fuzz scenario against the servers of the environment, with the services started here."""
    from services.cli.app import print_report
    from services.cli.output import console
    from services.simulator import chaos
    from shared.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--inputs", type=int, default=100_000, help="hostile inputs")
    parser.add_argument("--lifecycles", type=int, default=200, help="valid lifecycles around them")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run = f"fuzz{dt.datetime.now(dt.UTC):%H%M%S}"
    settings_ = msgspec.structs.replace(Settings.from_env(), namespace=run, database_prefix=run)
    logs = Path(".local-infra") / "chaos" / run
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    inputs = list(drawn(args.inputs, args.seed, giants_every=max(1, args.inputs // 2000)))
    print(f"drew {len(inputs)} hostile inputs (seed {args.seed}) in {time.monotonic() - started:.0f}s")

    async def go() -> chaos.Result:
        processes = await chaos.prepare(settings_, logs)
        try:
            return await chaos.fuzz(settings_, args.lifecycles, inputs, hostile.NAMES)
        finally:
            processes.stop()

    result = asyncio.run(go())
    (logs / "result.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    console().print(
        f"[bold]{result.scenario}[/]: {result.completed}/{result.expected} lifecycles, "
        f"{result.faults} hostile "
        f"inputs, in {result.seconds:.0f}s (logs and result.json: {logs})"
    )
    print_report(result.report)
    if not result.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
