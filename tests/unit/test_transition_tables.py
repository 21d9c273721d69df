"""Every service's transition table, row by row: each allowed pair passes, every other pair is refused."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest

from services.application import domain as application
from services.departure import domain as departure
from services.placement import domain as placement
from services.vetting import domain as vetting
from shared.statemachine import StateMachine, TransitionError

MACHINES = {"application": application, "vetting": vetting, "placement": placement, "departure": departure}
PAIRS = [
    pytest.param(
        module.MACHINE, module.TRANSITIONS, current, target, id=f"{name}:{current.value}->{target.value}"
    )
    for name, module in MACHINES.items()
    for current in module.Status
    for target in module.Status
]


@pytest.mark.parametrize(("machine", "table", "current", "target"), PAIRS)
def test_the_transition_table_allows_exactly_its_rows(
    machine: StateMachine[Any], table: dict[StrEnum, frozenset[StrEnum]], current: StrEnum, target: StrEnum
) -> None:
    if target in table[current]:
        assert machine.to(current, target) is target
    else:
        with pytest.raises(TransitionError):
            machine.to(current, target)
