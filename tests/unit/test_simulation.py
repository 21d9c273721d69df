"""The deterministic simulation in the suite: 2,000 schedules of two volunteers, and its seeds replay."""

from __future__ import annotations

import pytest

from tests.simulation.invariants import LOST_WAKE_UP
from tests.simulation.legacy import before_the_fix
from tests.simulation.schedule import SMALL, simulate

SCHEDULES = 2_000
KNOWN = {LOST_WAKE_UP}  # placement's lost wake-up, reported and not fixed here: see the test below


def test_two_thousand_schedules_of_crashes_zombies_and_rebalances_keep_every_invariant() -> None:
    failures = [
        f"seed {result.seed}: {check.name}: {check.detail} (replay: python -m tests.simulation --seed "
        f"{result.seed} --trace)"
        for result in (simulate(seed, volunteers=SMALL) for seed in range(SCHEDULES))
        for check in result.failures
        if check.name not in KNOWN
    ]
    assert not failures, "\n".join(failures[:10])


@pytest.mark.xfail(reason="placement: a seat offer misses a candidate saved awaiting but not yet listed")
def test_a_candidate_killed_between_its_awaiting_save_and_listing_is_offered_seats_published_meanwhile() -> (
    None
):
    """Seed 974: placement-2 saves app-3 awaiting (no opening registered yet) and is killed before marking it
    in the awaiting list; placement-1 registers three openings and offers their seats to the list (empty);
    the redelivery marks app-3, and nothing offers it a seat again."""
    result = simulate(974)
    assert result.ok, [(check.name, check.detail) for check in result.failures]


def test_a_seed_replays_exactly_the_same_schedule() -> None:
    first, again = simulate(7), simulate(7)
    assert (first.points, first.steps, first.faults) == (again.points, again.steps, again.faults)
    assert first.faults  # the schedule does inject faults


def test_the_simulation_finds_the_ordering_anomaly_on_the_outbox_before_3a34adb() -> None:
    with before_the_fix():
        result = simulate(31)
    assert [check.name for check in result.failures] == ["order kept per volunteer"]
    assert "envol.departure.events: ChecklistItemDone after ChecklistItemDone" in result.failures[0].detail
    assert simulate(31).ok
