"""A load of N complete lifecycles over many volunteer keys, with enough openings for every one of them."""

from __future__ import annotations

import datetime as dt
import math

from services.simulator.personas import Mission, Persona
from shared import samples
from shared.contracts.placement import OpeningPublished

SEATS_PER_OPENING = 500  # the contract's bound on seats


def load_openings(run: str, lifecycles: int, today: dt.date) -> list[OpeningPublished]:
    """Enough service civique openings in San Martín for every lifecycle, published three weeks ago."""
    count = max(1, math.ceil(lifecycles / SEATS_PER_OPENING))
    start = (today + dt.timedelta(days=90)).replace(day=1)
    return [
        samples.published(
            samples.opening(
                f"{run}-o{n}", seats=SEATS_PER_OPENING, start_date=start,
                published_on=today - dt.timedelta(days=21),
            )
        )
        for n in range(count)
    ]  # fmt: skip


def load_personas(run: str, lifecycles: int, *, missions_every: int = 0) -> list[Persona]:
    """`lifecycles` eligible volunteers, one key each, expected to arrive; with `missions_every` n, every
    n-th goes on through the whole mission to its closure, alternately completed and ended early."""
    return [
        _persona(
            run,
            n,
            MISSIONS[(n // missions_every) % 2] if missions_every and n % missions_every == 0 else None,
        )
        for n in range(lifecycles)
    ]


MISSIONS = (Mission.COMPLETED, Mission.ENDED_EARLY)


def _persona(run: str, n: int, mission: Mission | None) -> Persona:
    return Persona(
        application=samples.submitted_now(f"{run}-a{n}", f"{run}-v{n}"),
        expected_stage="12 closed" if mission else "9 arrived",
        mission=mission,
    )
