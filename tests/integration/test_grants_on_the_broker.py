"""The broker enforces the grants table: every principal × topic × operation, and every group, tried for real.

Writes, topic creation and configuration changes go through confluent-kafka (librdkafka, a client Envol did
not write); reads and group offsets through aiokafka. Each check asks the broker, never the table: the table
only says what each answer must be.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from confluent_kafka import KafkaError, Producer
from confluent_kafka import TopicPartition as KafkaPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from services.grants import (
    ADMIN,
    OPERATOR,
    PARTNER_PRINCIPALS,
    PRINCIPALS,
    SERVICES,
    SHARED_PARTNER,
    Grant,
    Operation,
    allows,
    grants,
)
from services.provision import provision
from shared import samples
from shared.admin import TopicsNotCreatedError, ensure_topics
from shared.contracts import intake
from shared.contracts.codec import encode
from shared.contracts.partners import PARTNERS, principal_of, topic_of
from shared.contracts.topics import HOST_SERVICES, INTAKES, TOPICS, Topic, partner_intake
from shared.contracts.vetting import VettingCleared
from shared.kafka import as_principal, client_options, librdkafka_config
from shared.settings import Settings

DENIED = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
READ_WINDOW = 6.0  # seconds a reader is given to fetch the record waiting in every topic


def require_secured(settings: Settings) -> None:
    if settings.kafka_security_protocol != "SASL_SSL" or not settings.kafka_passwords_file:
        pytest.fail(
            "the grants need the secured local broker (SASL_SSL, ENVOL_KAFKA_PASSWORDS): "
            f"this run connects with {settings.kafka_security_protocol}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
async def secured(settings: Settings) -> Settings:
    """A namespace of its own, provisioned (topics, users, grants), with one record in every topic."""
    require_secured(settings)
    namespace = msgspec.structs.replace(settings, namespace=f"{settings.namespace}-acl")
    await provision(namespace)
    producer = AIOKafkaProducer(**client_options(namespace), acks="all")
    await producer.start()
    try:
        for topic in TOPICS:
            await producer.send_and_wait(namespace.topic(topic), b"{}", partition=0)
    finally:
        await producer.stop()
    return namespace


def expected(table: list[Grant], principal: str, operation: Operation, resource: str, name: str) -> bool:
    return principal == ADMIN or allows(table, principal, operation, resource, name)


def writes(settings: Settings, principal: str) -> dict[str, bool]:
    """Whether each topic took a message from `principal`."""
    producer = Producer(
        librdkafka_config(as_principal(settings, principal)) | {"message.timeout.ms": "15000"}
    )
    results: dict[str, bool] = {}
    for topic in TOPICS:
        name = settings.topic(topic)
        producer.produce(
            name, b"{}", key=b"matrix", on_delivery=lambda error, _, n=name: results.__setitem__(n, error)
        )
    assert producer.flush(30) == 0, "messages still waiting for the broker's answer"
    for name, error in results.items():
        assert error is None or error.code() in DENIED, f"{principal} → {name}: {error}"
    return {name: error is None for name, error in results.items()}


def changes(settings: Settings, principal: str) -> tuple[dict[str, bool], dict[str, bool], dict[str, bool]]:
    """Whether `principal` may create each topic (validated only), change its configuration, and delete its
    records (up to offset 0: the broker checks the right and deletes nothing)."""
    admin = AdminClient(librdkafka_config(as_principal(settings, principal)))
    names = [settings.topic(topic) for topic in TOPICS]
    create = admin.create_topics([NewTopic(name, 1, 1) for name in names], validate_only=True)
    entry = ConfigEntry("retention.ms", "604800000", incremental_operation=AlterConfigOpType.SET)
    resources = [ConfigResource(ResourceType.TOPIC, name, incremental_configs=[entry]) for name in names]
    alter = {r.name: f for r, f in admin.incremental_alter_configs(resources, validate_only=True).items()}
    delete = {p.topic: f for p, f in admin.delete_records([KafkaPartition(n, 0, 0) for n in names]).items()}
    return (
        _outcomes(create, KafkaError.TOPIC_ALREADY_EXISTS),
        _outcomes(alter, None),
        _outcomes(delete, None),
    )


def _outcomes(futures: dict[str, object], allowed_error: int | None) -> dict[str, bool]:
    found = {}
    for name, future in futures.items():
        error = future.exception()  # type: ignore[attr-defined]
        code = None if error is None else error.args[0].code()
        assert code in DENIED | {None, allowed_error}, f"{name}: {error}"
        found[name] = code not in DENIED
    return found


async def reads(settings: Settings, principal: str) -> dict[str, bool]:
    """Whether `principal` fetched the record waiting in each topic."""
    consumer = AIOKafkaConsumer(**client_options(as_principal(settings, principal)), enable_auto_commit=False)
    await consumer.start()
    fetched: Counter[str] = Counter()
    try:
        partitions = [TopicPartition(settings.topic(topic), 0) for topic in TOPICS]
        consumer.assign(partitions)
        for partition in partitions:
            consumer.seek(partition, 0)
        deadline = time.monotonic() + READ_WINDOW
        while time.monotonic() < deadline and partitions:
            try:
                batch = await consumer.getmany(timeout_ms=500)
            except TopicAuthorizationFailedError as error:  # a topic it may describe, not read
                partitions = [p for p in partitions if p.topic not in error.args]
                consumer.assign(partitions)
                continue
            for partition, records in batch.items():
                fetched[partition.topic] += len(records)
    finally:
        await consumer.stop()
    return {settings.topic(topic): fetched[settings.topic(topic)] > 0 for topic in TOPICS}


def committed_on(settings: Settings, principal: str) -> str:
    """The topic a principal's offset commit names: one it may read if it has one (a commit needs both)."""
    readable = [
        g.name
        for g in grants(settings)
        if g.principal == principal and g.operation is Operation.READ and g.resource == "topic"
    ]
    return next(iter(readable), settings.topic(Topic.PARTNER_PLACEMENT_UPDATES))


async def in_groups(settings: Settings, principal: str, groups: list[str]) -> dict[str, tuple[bool, bool]]:
    """For each group: whether `principal` may commit offsets in it (READ) and see its offsets (DESCRIBE)."""
    options = client_options(as_principal(settings, principal))
    topic = TopicPartition(committed_on(settings, principal), 0)
    found = {}
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        for group in groups:
            consumer = AIOKafkaConsumer(**options, group_id=group, enable_auto_commit=False)
            await consumer.start()
            consumer.assign([topic])
            try:
                await consumer.commit({topic: 1})
                committed = True
            except (GroupAuthorizationFailedError, TopicAuthorizationFailedError):
                committed = False
            finally:
                await consumer.stop()
            try:
                await admin.list_consumer_group_offsets(group)
                described = True
            except GroupAuthorizationFailedError:
                described = False
            found[group] = (committed, described)
    finally:
        await admin.close()
    return found


async def test_every_principal_may_do_exactly_what_the_grants_table_allows(secured: Settings) -> None:
    table = grants(secured)
    partners = [secured.topic(f"{principal}.a") for principal in (SHARED_PARTNER, *PARTNER_PRINCIPALS)]
    groups = [*(secured.group(s) for s in SERVICES), *partners, secured.topic("stranger")]
    outcomes: list[tuple[str, str, str, bool, bool]] = []  # principal, operation, resource, allowed, expected
    everyone = (*PRINCIPALS, ADMIN)
    all_fetched = await asyncio.gather(*(reads(secured, principal) for principal in everyone))  # at once
    for principal, fetched in zip(everyone, all_fetched, strict=True):
        written = await asyncio.to_thread(writes, secured, principal)
        created, altered, deleted = await asyncio.to_thread(changes, secured, principal)
        for name in written:
            may_write = expected(table, principal, Operation.WRITE, "topic", name)
            may_read = expected(table, principal, Operation.READ, "topic", name)
            outcomes += [
                (principal, "write", name, written[name], may_write),
                (principal, "read", name, fetched[name], may_read),
                (principal, "create", name, created[name], principal == ADMIN),
                (principal, "alter", name, altered[name], principal == ADMIN),
                (principal, "delete records", name, deleted[name],
                 expected(table, principal, Operation.DELETE, "topic", name)),
            ]  # fmt: skip
        for group, (committed, described) in (await in_groups(secured, principal, groups)).items():
            may_read = expected(table, principal, Operation.READ, "group", group)
            may_read &= expected(table, principal, Operation.READ, "topic", committed_on(secured, principal))
            outcomes += [
                (principal, "join group", group, committed, may_read),
                (principal, "see group offsets", group, described,
                 expected(table, principal, Operation.DESCRIBE, "group", group)),
            ]  # fmt: skip
    wrong = [o for o in outcomes if o[3] != o[4]]
    denied = sum(not o[4] for o in outcomes)
    print(
        f"\n{len(outcomes)} checks: {denied} denied as expected, {len(outcomes) - denied} allowed as expected"
    )
    assert wrong == [], f"{len(wrong)} of {len(outcomes)} checks disagree with the table: {wrong[:20]}"
    assert denied > len(outcomes) // 2  # least privilege: most of the matrix is refused
    assert len(outcomes) == (len(PRINCIPALS) + 1) * (5 * len(TOPICS) + 2 * len(groups))


async def test_a_forged_vetting_cleared_is_refused_by_the_broker(secured: Settings) -> None:
    """Any principal but vetting's (and the admin's) is refused on vetting's events topic."""
    application = samples.submitted("app-forged")
    forged = VettingCleared(
        subject_id=application.subject_id, producer="vetting", application_id=application.application_id
    )
    refused = []
    for principal in PRINCIPALS:
        producer = AIOKafkaProducer(**client_options(as_principal(secured, principal)), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(secured.topic(Topic.VETTING_EVENTS), encode(forged), key=b"vol-1")
        except TopicAuthorizationFailedError:
            refused.append(principal)
        finally:
            await producer.stop()
    assert refused == [p for p in PRINCIPALS if p != "vetting"]


async def test_a_partner_reads_its_own_topic_and_nothing_else(secured: Settings) -> None:
    own = {SHARED_PARTNER: Topic.PARTNER_PLACEMENT_UPDATES.value}
    own |= {principal_of(partner): topic_of(partner) for partner in PARTNERS}
    for principal, topic in own.items():
        fetched = await reads(secured, principal)
        assert [name for name, got in fetched.items() if got] == [secured.topic(topic)], principal
        others = [secured.topic(f"{other}.mine") for other in own if other != principal]
        mine = secured.topic(f"{principal}.mine")
        groups = await in_groups(secured, principal, [secured.group("placement"), mine, *others])
        assert groups.pop(mine) == (True, True) and set(groups.values()) == {(False, False)}, principal


async def test_operators_see_every_services_offsets_and_join_no_group(secured: Settings) -> None:
    groups = await in_groups(secured, OPERATOR, [secured.group(service) for service in SERVICES])
    assert set(groups.values()) == {(False, True)}


async def test_topics_the_broker_refuses_are_an_error_naming_each_topic_and_why(secured: Settings) -> None:
    impossible = msgspec.structs.replace(secured, namespace=f"{secured.namespace}-rf", topic_replication=3)
    refused = rf"{len(TOPICS)} topics not created: .*InvalidReplicationFactorError"
    with pytest.raises(TopicsNotCreatedError, match=refused):
        await ensure_topics(impossible)  # one broker cannot hold three replicas
    denied = msgspec.structs.replace(
        as_principal(secured, "partner"), namespace=f"{secured.namespace}-denied"
    )
    with pytest.raises(TopicsNotCreatedError, match="TopicAuthorizationFailedError"):
        await ensure_topics(denied)


async def test_once_the_shared_host_topics_are_retired_the_broker_lets_no_one_write_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Provisioned with the shared host topics, then again with them retired (every host onboarded as a
    partner): the `host` principal, which wrote them, may write nothing any more and operators no longer
    replay to them, while each partner still writes its own intake topics."""
    require_secured(settings)
    onboarded = msgspec.structs.replace(settings, namespace=f"{settings.namespace}-onboarded")
    shared = {onboarded.topic(topic) for topic in intake.SHARED_HOST_INTAKES}
    partner = principal_of(PARTNERS[0])
    own = {onboarded.topic(partner_intake(service, partner)) for service in HOST_SERVICES}
    other_intakes = {onboarded.topic(topic) for topic in INTAKES} - shared

    def written(principal: str) -> set[str]:
        return {topic for topic, took in writes(onboarded, principal).items() if took}

    await provision(onboarded)
    assert await asyncio.to_thread(written, intake.Source.HOST) == shared
    assert await asyncio.to_thread(written, OPERATOR) == shared | other_intakes
    monkeypatch.setattr(intake, "SHARED_HOST_TOPICS_RETIRED", True)
    await provision(onboarded)
    assert await asyncio.to_thread(written, intake.Source.HOST) == set()
    assert await asyncio.to_thread(written, OPERATOR) == other_intakes
    assert await asyncio.to_thread(written, partner) == own
