"""A readiness check answers within its bound, whatever the check does when it is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from shared import health


async def test_a_check_that_outlives_its_cancellation_is_answered_as_timed_out_without_waiting_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "CHECK_SECONDS", 0.05)
    released = asyncio.Event()

    async def stubborn() -> bool:  # a driver call that, once cancelled, still finishes what it was doing
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await released.wait()
            raise
        return True

    answer = await asyncio.wait_for(health._check(stubborn()), timeout=5)
    assert answer == "TimeoutError" and not released.is_set()
    released.set()


async def test_a_check_answers_ok_no_answer_or_the_error_class() -> None:
    async def answers(value: object) -> object:
        return value

    async def fails() -> None:
        raise ConnectionRefusedError

    assert await health._check(answers({"ok": 1})) == "ok"
    assert await health._check(answers(False)) == "no answer"
    assert await health._check(fails()) == "ConnectionRefusedError"
