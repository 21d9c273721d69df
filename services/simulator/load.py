"""A load of N complete lifecycles over many volunteer keys, with enough openings for every one of them."""

from __future__ import annotations

import datetime as dt
import math

from services.simulator.personas import Persona
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


def load_personas(run: str, lifecycles: int) -> list[Persona]:
    """`lifecycles` eligible volunteers, each expected to arrive; one key per volunteer."""
    return [
        Persona(application=samples.submitted_now(f"{run}-a{n}", f"{run}-v{n}"), expected_stage="9 arrived")
        for n in range(lifecycles)
    ]
