"""The audit's checks on what outside systems may send: their order and their ids are theirs, not Envol's."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import msgspec

from services.cli.audit import leaked, order_kept, without_the_openings_text
from services.cli.reading import Seen
from shared import samples
from shared.contracts.topics import Topic

AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def seen(topic: Topic, offset: int, occurred_at: dt.datetime) -> Seen:
    event = msgspec.structs.replace(samples.submitted(), occurred_at=occurred_at)
    record = SimpleNamespace(key=b"vol-1", value=b"", headers=())
    return Seen(topic, 0, offset, AT + dt.timedelta(seconds=offset), record, event)


def test_events_out_of_time_order_on_an_intake_topic_are_the_senders_not_a_broken_promise() -> None:
    late_first = [
        seen(Topic.APPLICATION_INTAKE, 0, AT),
        seen(Topic.APPLICATION_INTAKE, 1, AT.replace(year=1950)),
    ]
    assert order_kept(late_first).ok


def test_events_out_of_time_order_on_a_topic_envol_writes_are_reported() -> None:
    late_first = [
        seen(Topic.APPLICATION_EVENTS, 0, AT),
        seen(Topic.APPLICATION_EVENTS, 1, AT.replace(year=1950)),
    ]
    check = order_kept(late_first)
    assert not check.ok and "1 out of order" in check.detail


def test_a_short_personal_value_leaks_only_as_a_whole_string() -> None:
    message = b'{"mission":"Conservation des especes","volunteer_ref":"es"}'
    assert leaked(b"es", message)  # the whole value
    assert not leaked(b"es", b'{"mission":"Conservation des especes"}')  # only letters inside a word


def test_a_long_personal_value_leaks_anywhere_inside_a_message() -> None:
    assert leaked(b"durand", b'{"placement_id":"camille.durand.p1"}')
    assert not leaked(b"durand", b'{"placement_id":"pl-7f3a"}')


def test_a_personal_value_that_is_a_word_of_the_openings_text_is_not_a_leak() -> None:
    message = b'{"placement_id":"pl-1","mission":"Conservation through education","region":"San Martin"}'
    assert not leaked(b"education", without_the_openings_text(message))
    assert leaked(b"education", without_the_openings_text(b'{"placement_id":"education.p1","mission":"x"}'))
