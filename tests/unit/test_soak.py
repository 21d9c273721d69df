"""The long run's figures over time, from its rounds."""

from __future__ import annotations

import pytest

from services.simulator.soak import Round, tenths


def test_each_tenth_is_the_rate_of_its_rounds_taken_together() -> None:
    rounds = [Round(100, 10.0)] * 10 + [
        Round(100, 20.0)
    ] * 10  # 20 rounds: two per tenth, the middle 9 and 10
    rounds[0] = Round(100, 5.0)
    assert tenths(rounds) == {
        "first": pytest.approx(200 / 15),
        "middle": pytest.approx(200 / 30),
        "last": 5.0,
    }


def test_fewer_than_ten_rounds_give_one_round_per_tenth() -> None:
    rounds = [Round(10, 1.0), Round(10, 2.0), Round(10, 4.0)]
    assert tenths(rounds) == {"first": 10.0, "middle": 5.0, "last": 2.5}
