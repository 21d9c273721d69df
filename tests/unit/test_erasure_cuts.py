"""Where an erasure cuts the topics: after the volunteer's last record on each partition, never before it,
and no other dead letter taken without being written again."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from services.cli.erasure import Cutting, mentions

VOLUNTEER = "vol-1"
LETTERS = "envol.dead-letter"
TOPICS = ("envol.application.events", LETTERS)


def record(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(topic, partition, offset, 0, 0, key, value, None, 0, 0, [])


def test_a_record_is_about_the_volunteer_by_its_key_or_their_id_as_a_json_string_in_its_bytes() -> None:
    assert mentions(record(LETTERS, 0, 0, b"vol-1", b"\xff not json"), VOLUNTEER)
    assert mentions(record(LETTERS, 0, 0, b"someone-else", b'{"volunteer_id":"vol-1"}'), VOLUNTEER)
    assert mentions(record(LETTERS, 0, 0, None, b'{"a":["x","vol-1"]}'), VOLUNTEER)
    assert not mentions(record(LETTERS, 0, 0, b"vol-12", b'{"volunteer_id":"vol-12"}'), VOLUNTEER)
    assert not mentions(record(LETTERS, 0, 0, None, b"vol-1 named outside a JSON string"), VOLUNTEER)


def test_a_hosts_report_keyed_by_one_of_the_volunteers_placements_is_about_them() -> None:
    report = record("envol.departure.intake.partner-npc", 0, 0, b"pl-1", b'{"report":"ended"}')
    assert mentions(report, VOLUNTEER, {"pl-1"}) and not mentions(report, VOLUNTEER, {"pl-2"})
    cutting = Cutting(VOLUNTEER, LETTERS, {"pl-1"})
    cutting.see(report)
    assert [(c.topic, c.before, c.theirs) for c in cutting.found().cuts] == [(report.topic, 1, 1)]


# a partition's records in offset order, each about the volunteer or not; offsets may have gaps (retention,
# an earlier cut, transaction markers)
partitions = st.dictionaries(
    st.tuples(st.sampled_from(TOPICS), st.integers(0, 2)),
    st.lists(st.tuples(st.integers(1, 3), st.booleans()), max_size=12),
    max_size=5,
)


@given(partitions)
def test_every_record_of_the_volunteer_is_below_a_cut_and_nothing_else_is_cut(
    laid_out: dict[tuple[str, int], list[tuple[int, bool]]],
) -> None:
    cutting, written = Cutting(VOLUNTEER, LETTERS), {}
    for (topic, partition), steps in laid_out.items():
        offset, found = 0, []
        for gap, theirs in steps:
            offset += gap
            key = VOLUNTEER.encode() if theirs else f"other-{offset}".encode()
            found.append(record(topic, partition, offset, key, b"{}"))
        written[TopicPartition(topic, partition)] = found
        for each in found:
            cutting.see(each)
    result = cutting.found()
    cuts = {TopicPartition(c.topic, c.partition): c for c in result.cuts}

    for where, found in written.items():
        theirs = [r for r in found if mentions(r, VOLUNTEER)]
        if not theirs:
            assert where not in cuts  # a partition without their records keeps all of its records
            continue
        cut = cuts[where]
        assert cut.before == theirs[-1].offset + 1  # just after their last record: the least taken
        below = [r for r in found if r.offset < cut.before]
        assert (cut.theirs, cut.others) == (len(theirs), len(below) - len(theirs))
    taken_letters = [
        r for where, found in written.items() if where.topic == LETTERS and where in cuts
        for r in found if r.offset < cuts[where].before and not mentions(r, VOLUNTEER)
    ]  # fmt: skip
    assert sorted(r.offset for r in result.kept_letters) == sorted(r.offset for r in taken_letters)
    assert all(r.topic == LETTERS for r in result.kept_letters)
