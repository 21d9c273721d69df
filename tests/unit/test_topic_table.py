"""The topic table's policy: every topic has an explicit retention of its class, short where facts only
pass through or personal bodies wait, longest where partners backfill."""

from __future__ import annotations

from shared.admin import DAY_MS, RETENTION, SEGMENT_MS, retention_class, topic_config
from shared.contracts.topics import INTAKES, Topic


def retention_days(topic: Topic) -> int:
    return int(topic_config(3, topic)["retention.ms"]) // DAY_MS


def test_every_topic_is_deleted_after_the_retention_of_its_class_and_never_kept_forever() -> None:
    for topic in Topic:
        config = topic_config(3, topic)
        assert config["cleanup.policy"] == "delete"
        assert 0 < int(config["retention.ms"]) == RETENTION[retention_class(topic)].days * DAY_MS
        assert int(config["segment.ms"]) == SEGMENT_MS <= int(config["retention.ms"])


def test_intake_and_dead_letters_are_kept_shorter_than_events_and_the_partner_topic_longest() -> None:
    events = [t for t in Topic if t.endswith(".events")]
    longest_short = max(retention_days(t) for t in (*INTAKES, Topic.DEAD_LETTER))
    assert longest_short < min(retention_days(t) for t in events)
    assert max(retention_days(t) for t in events) < retention_days(Topic.PARTNER_PLACEMENT_UPDATES)
    assert {retention_class(t) for t in INTAKES} == {"intake"}


def test_a_write_needs_a_majority_of_replicas_and_a_lone_broker_is_enough_locally() -> None:
    assert topic_config(3, Topic.VETTING_EVENTS)["min.insync.replicas"] == "2"
    assert topic_config(1, Topic.VETTING_EVENTS)["min.insync.replicas"] == "1"
    assert topic_config(3, Topic.VETTING_EVENTS)["unclean.leader.election.enable"] == "false"
