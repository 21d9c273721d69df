"""Which faults are retried in place, and that retrying gives up after a bound."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError, RecordTooLargeError
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError, OperationFailure

from shared.retry import GaveUpError, is_transient, retry_in_place


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (AutoReconnect("connection lost"), True),
        (KafkaConnectionError("broker down"), True),
        (OperationFailure("database is locked (5) (SQLITE_BUSY)", code=1), True),
        (OperationFailure("WriteConflict", code=112), True),
        (OperationFailure("not primary", code=10107), True),
        (OperationFailure("sql: transaction has already been committed or rolled back", code=1), True),
        (DuplicateKeyError("E11000 duplicate key"), False),
        (OperationFailure("bad query", code=2), False),
        (RecordTooLargeError("too large"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_faults_that_pass_by_themselves_are_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


async def test_a_lasting_fault_gives_up_after_the_last_attempt() -> None:
    calls = []

    async def down() -> None:
        calls.append(1)
        raise AutoReconnect("still down")

    with pytest.raises(GaveUpError, match="AutoReconnect after 3 attempts"):
        await retry_in_place(down, attempts=3, base_seconds=0.001)
    assert len(calls) == 3


def test_a_bulk_write_is_transient_only_if_every_write_it_could_not_make_is() -> None:
    def bulk(*errors: dict[str, object], concern: tuple[dict[str, object], ...] = ()) -> BulkWriteError:
        return BulkWriteError({"writeErrors": list(errors), "writeConcernErrors": list(concern)})

    locked = {"index": 0, "code": 1, "errmsg": "database is locked (5) (SQLITE_BUSY)"}
    duplicate = {"index": 1, "code": 11000, "errmsg": "E11000 duplicate key"}
    assert is_transient(bulk(locked)) and is_transient(bulk(concern=({"code": 64, "errmsg": "timeout"},)))
    assert not is_transient(bulk(locked, duplicate)) and not is_transient(bulk())
