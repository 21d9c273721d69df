"""FerretDB on PostgreSQL (`FERRETDB_BACKEND=postgresql`), the backend the local scripts can run instead of
SQLite: started by them as a user would, it keeps every storage guarantee the services rely on."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from pymongo import AsyncMongoClient

from shared.settings import Settings
from tests.integration import test_mongo
from tests.servers import ROOT

SCRIPTS = ROOT / "deploy" / "local"
PORT, DEBUG_PORT = 47117, 48188  # beside the test stack's


def run(script: str, command: str, environment: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPTS / script), command], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{script} {command} failed: {done.stderr[-2000:]}"
    return done.stdout.strip()


@contextlib.contextmanager
def ferretdb_on_postgresql(state: Path) -> Iterator[str]:
    """Start PostgreSQL and FerretDB on it with the local scripts, in a state folder of their own; yield
    the admin's password; stop both and remove what they wrote."""
    environment = os.environ | {
        "ENVOL_STATE": str(state),
        "FERRETDB_BACKEND": "postgresql",
        "FERRETDB_PORT": str(PORT),
        "FERRETDB_DEBUG_PORT": str(DEBUG_PORT),
    }
    where = run("postgres.sh", "where", environment)
    try:
        run("ferretdb.sh", "start", environment)
        passwords = (state / "secrets" / "mongodb-passwords").read_text().split()
        yield passwords[passwords.index("admin") + 1]
    finally:
        run("ferretdb.sh", "stop", environment)
        run("postgres.sh", "stop", environment)
        shutil.rmtree(where, ignore_errors=True)


async def test_ferretdb_on_postgresql_keeps_the_storage_guarantees(
    tmp_path: Path, settings: Settings
) -> None:
    with ferretdb_on_postgresql(tmp_path / "state") as password:
        client: test_mongo.Client = AsyncMongoClient(
            f"mongodb://127.0.0.1:{PORT}/", username="admin", password=password, authMechanism="SCRAM-SHA-256"
        )
        try:
            await test_mongo.test_a_second_insert_with_the_same_unique_key_raises_duplicate_key_error(
                client, settings
            )
            await test_mongo.test_an_aggregate_round_trips_and_a_stale_save_is_refused(client, settings)
            await test_mongo.test_concurrent_saves_of_one_version_let_exactly_one_win(client, settings)
            await test_mongo.test_aggregates_load_and_save_in_bulk_and_a_stale_one_is_refused_alone(
                client, settings
            )
            await test_mongo.test_claims_asked_in_bulk_go_to_the_first_claimant_and_stay_with_their_holder(
                client, settings
            )
            await test_mongo.test_a_bulk_write_of_five_hundred_replaces_of_existing_documents_answers(
                client, settings
            )
            database = client[settings.database("probe")]
            await database["scanned"].insert_many([{"_id": f"d{n}"} for n in range(20)])
            plan = await database.command("explain", {"find": "scanned", "filter": {"_id": "d3"}})
            assert "Seq Scan" in str(plan["queryPlanner"])  # what docs/benchmarks.md says of it
        finally:
            await client.close()
