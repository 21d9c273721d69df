"""Summing py-spy's collapsed stacks into the functions that cost the most."""

from __future__ import annotations

from services.simulator.profiles import LOOP, frame_name, summarise

STACKS = [
    "<module> (runpy.py:1);run (shared/service.py:40);apply_once (/srv/envol/shared/processing.py:51);"
    "find_one (/venv/pymongo/asynchronous/collection.py:9) 30",
    "<module> (runpy.py:1);run (shared/service.py:40);decode (/srv/envol/shared/contracts/codec.py:12);"
    "decode (/venv/msgspec/json.py:3) 50",
    "<module> (runpy.py:1);run (shared/service.py:40);BaseEventLoop._run_once (asyncio/base_events.py:1900);"
    "write (asyncio/selector_events.py:10) 10",
    "<module> (runpy.py:1);run (shared/service.py:40);BaseEventLoop._run_once (asyncio/base_events.py:1900);"
    "EpollSelector.select (/usr/lib/python3.11/selectors.py:468) 7",
    "<module> (runpy.py:1);run (shared/service.py:40);BaseEventLoop._run_once (asyncio/base_events.py:1900);"
    "_step (shared/consuming.py:3);decode (/srv/envol/shared/contracts/codec.py:14) 5",
    "_bootstrap (threading.py:1);_worker (concurrent/futures/thread.py:81) 3",
    "<module> (runpy.py:1);send (/venv/site-packages/shared/sockets.py:7) 5",  # a library's `shared`
    "not a stack line",
]


def test_a_frame_is_named_by_function_and_the_last_two_parts_of_its_path_without_its_line() -> None:
    assert (
        frame_name("apply_once (/srv/envol/shared/processing.py:51)") == "apply_once (shared/processing.py)"
    )
    assert frame_name("<module> (runpy.py:1)") == "<module> (runpy.py)"


def test_busy_samples_count_for_their_innermost_frame_and_for_the_innermost_envol_frame_above_it() -> None:
    profile = summarise(STACKS)
    assert (profile.samples, profile.waiting) == (100, 10)
    assert profile.by_self == [
        ("decode (msgspec/json.py)", 50),
        ("find_one (asynchronous/collection.py)", 30),
        ("write (asyncio/selector_events.py)", 10),
        ("decode (contracts/codec.py)", 5),
        ("send (shared/sockets.py)", 5),
    ]
    assert profile.by_envol == [
        ("decode (contracts/codec.py)", 55),  # under the event loop, in a task of Envol's
        ("apply_once (shared/processing.py)", 30),
        (LOOP, 10),  # under the entry point, in no Envol function
        ("(outside Envol's code)", 5),
    ]


def test_only_the_costliest_are_kept() -> None:
    assert [name for name, _ in summarise(STACKS, top=1).by_self] == ["decode (msgspec/json.py)"]
