"""The grants table keeps the least-privilege rules it states (the broker's enforcement is tested for real in
tests/integration/test_grants_on_the_broker.py)."""

from __future__ import annotations

import pytest

from services.cli.deadletters import refusal
from services.grants import (
    ERASABLE,
    ERASER,
    OPERATOR,
    PARTNER_PRINCIPALS,
    PRINCIPALS,
    SERVICES,
    SHARED_PARTNER,
    SOURCES,
    Operation,
    allows,
    grants,
)
from shared.contracts import intake
from shared.contracts.partners import PARTNERS, principal_of, topic_of
from shared.contracts.topics import (
    INTAKES,
    PARTNER_INTAKES,
    PARTNER_TOPICS,
    TOPICS,
    WRITER_OF_EVENTS,
    Topic,
    partner_intake,
)
from shared.settings import Settings

SETTINGS = Settings(namespace="ns")
TABLE = grants(SETTINGS)


def writers(topic: str) -> set[str]:
    return {p for p in PRINCIPALS if allows(TABLE, p, Operation.WRITE, "topic", SETTINGS.topic(topic))}


def readers(topic: str) -> set[str]:
    return {p for p in PRINCIPALS if allows(TABLE, p, Operation.READ, "topic", SETTINGS.topic(topic))}


def test_each_event_topic_has_one_writer_its_service() -> None:
    for topic, service in WRITER_OF_EVENTS.items():
        assert writers(topic) == {service}


def test_each_intake_topic_is_written_by_its_one_source_and_the_operators_replay() -> None:
    for topic in INTAKES:
        sources = writers(topic) - {OPERATOR, ERASER}
        assert len(sources) == 1 and sources <= {*SOURCES, *PARTNER_PRINCIPALS}, (topic, sources)


def test_outside_sources_read_nothing_and_partners_only_their_topic() -> None:
    own = {topic_of(partner): principal_of(partner) for partner in PARTNERS}
    own[Topic.PARTNER_PLACEMENT_UPDATES] = SHARED_PARTNER  # the first delivery's, every partner's
    for topic in TOPICS:
        assert not readers(topic) & set(SOURCES)
        assert readers(topic) & {SHARED_PARTNER, *PARTNER_PRINCIPALS} == (
            {own[topic]} if topic in own else set()
        )
        assert readers(topic) - {own.get(topic)} <= {*SERVICES, OPERATOR, ERASER}


def test_each_partner_joins_only_groups_of_its_own_prefix() -> None:
    for principal in (SHARED_PARTNER, *PARTNER_PRINCIPALS):
        joins = {
            p
            for p in PRINCIPALS
            if allows(TABLE, p, Operation.READ, "group", SETTINGS.topic(f"{principal}.x"))
        }
        assert joins == {principal}


def test_personal_data_topics_are_read_by_services_and_operators_only() -> None:
    assert readers(Topic.APPLICATION_EVENTS) == {"vetting", "placement", "departure", OPERATOR, ERASER}
    assert readers(Topic.DEAD_LETTER) == {OPERATOR, ERASER}


def test_only_the_eraser_deletes_records_of_no_topic_but_those_of_personal_data_and_writes_two() -> None:
    for topic in TOPICS:
        deleters = {
            p for p in PRINCIPALS if allows(TABLE, p, Operation.DELETE, "topic", SETTINGS.topic(topic))
        }
        assert deleters == ({ERASER} if topic in ERASABLE else set()), topic
    assert not {Topic.PARTNER_PLACEMENT_UPDATES, *PARTNER_TOPICS} & set(ERASABLE)  # pseudonyms only
    assert set(PARTNER_INTAKES) <= set(ERASABLE)  # a host's facts name the application, as on the shared one
    written = {t for t in Topic if ERASER in writers(t)}
    assert written == {Topic.APPLICATION_INTAKE_AGENCY, Topic.DEAD_LETTER}
    assert OPERATOR not in writers(Topic.DEAD_LETTER)


def test_each_service_joins_its_own_group_only_and_nobody_else_does() -> None:
    for group_of in SERVICES:
        group = SETTINGS.group(group_of)
        assert {p for p in PRINCIPALS if allows(TABLE, p, Operation.READ, "group", group)} == {group_of}
    assert allows(TABLE, OPERATOR, Operation.DESCRIBE, "group", SETTINGS.group("placement"))


def test_a_partners_groups_are_its_prefix_in_the_namespace() -> None:
    assert allows(TABLE, "partner", Operation.READ, "group", "ns.partner.dashboard")
    assert not allows(TABLE, "partner", Operation.READ, "group", "partner.dashboard")  # another namespace
    assert not allows(TABLE, "partner", Operation.READ, "group", "ns.partnerx")


def test_once_the_shared_host_topics_are_retired_nobody_writes_them_and_every_other_grant_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(intake, "SHARED_HOST_TOPICS_RETIRED", True)
    table = grants(SETTINGS)
    shared = {SETTINGS.topic(topic) for topic in intake.SHARED_HOST_INTAKES}
    assert len(shared) == 2  # placement's and departure's
    assert not [g for g in table if g.name in shared and g.operation is Operation.WRITE]
    assert not [g for g in table if g.principal == intake.Source.HOST]  # the `host` principal may do nothing
    taken = {g for g in TABLE if g.name in shared and g.operation is Operation.WRITE}
    assert set(TABLE) - set(table) == taken  # the host's writes, the operators' replays; no other grant
    assert {g.principal for g in taken} == {intake.Source.HOST, OPERATOR}
    assert set(table) <= set(TABLE)


def test_a_dead_letter_is_not_replayed_to_a_retired_shared_host_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    origin = SETTINGS.topic(Topic.PLACEMENT_INTAKE)
    assert refusal(SETTINGS, origin) is None  # while hosts that are not partners still write it
    monkeypatch.setattr(intake, "SHARED_HOST_TOPICS_RETIRED", True)
    assert "retired" in (refusal(SETTINGS, origin) or "")
    assert refusal(SETTINGS, SETTINGS.topic(partner_intake("placement", principal_of(PARTNERS[0])))) is None
