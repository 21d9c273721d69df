"""No log level writes a document or a message body: with ENVOL_LOG_LEVEL=DEBUG, the drivers' loggers stay
at INFO, so a personal value written to the database and sent through the broker appears in no log record."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.admin import ensure_topics
from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.logs import DRIVER_LOGGERS, configure_logging
from shared.mongo import mongo_client
from shared.settings import Settings

PERSONAL = "Camille-Durand-1999-04-12"  # a value no log line may hold


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()} {record.__dict__}")


@pytest.fixture
def debug_logs() -> Iterator[Kept]:
    """The service's logging at DEBUG, every record kept; the test process's logging restored after."""
    root, envol = logging.getLogger(), logging.getLogger("envol")
    handlers, level, envol_level = root.handlers[:], root.level, envol.level
    envol.setLevel(logging.NOTSET)  # as in a service process (a simulation run in this process may raise it)
    configure_logging("probe", "DEBUG")
    kept = Kept()
    root.addHandler(kept)
    try:
        yield kept
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        envol.setLevel(envol_level)
        for driver in DRIVER_LOGGERS:
            logging.getLogger(driver).setLevel(logging.NOTSET)


async def test_a_document_and_a_message_body_reach_no_log_at_debug(
    debug_logs: Kept, quiet_settings: Settings
) -> None:
    settings = quiet_settings
    assert logging.getLogger("envol.consuming").isEnabledFor(logging.DEBUG)  # Envol's own: at DEBUG
    client = mongo_client(settings, "envol-probe")
    try:
        people = client[settings.database("probe")]["people"]
        await people.insert_one({"_id": "p1", "name": PERSONAL})
        assert (await people.find_one({"_id": "p1"}))["name"] == PERSONAL  # type: ignore[index]
    finally:
        await client.close()
    await ensure_topics(settings)
    topic = settings.topic(Topic.DEAD_LETTER)
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, PERSONAL.encode(), key=PERSONAL.encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        records = await consumer.getmany(partition, timeout_ms=10_000)
    finally:
        await consumer.stop()
    assert [r.value for r in records[partition]] == [PERSONAL.encode()]
    assert debug_logs.lines, "nothing was logged at all: the capture does not work"
    leaked = [line for line in debug_logs.lines if PERSONAL in line]
    assert leaked == [], f"{len(leaked)} log records hold the value, e.g. {leaked[0][:300]}"
