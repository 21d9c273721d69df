"""The database's users on the real MongoDB-protocol server: no client gets in without one, each user
gets in with its own password only, and provisioning them again changes nothing.

What FerretDB v1 cannot do is not asserted here: it stores no roles, so an authenticated user may use
every database (docs/security.md); the roles table reaches the server on MongoDB (`make topics`)."""

from __future__ import annotations

import msgspec
import pytest
from pymongo.errors import OperationFailure

from services.grants import ADMIN, AUDITOR, DATABASE_USERS, SERVICES
from services.provision import ensure_database_users
from shared.mongo import mongo_client
from shared.settings import Settings, read_passwords

UNAUTHORIZED, AUTHENTICATION_FAILED = 13, 18


@pytest.fixture(scope="module")
async def provisioned(settings: Settings) -> Settings:
    """The database's users made (or found made), as `make topics` makes them."""
    if not settings.mongodb_passwords_file or settings.mongodb_username != ADMIN:
        pytest.fail(
            "the database users need the local stack's admin (MONGODB_USERNAME=admin, "
            "ENVOL_MONGODB_PASSWORDS): this run has none",
            pytrace=False,
        )
    await ensure_database_users(settings)
    return settings


def as_user(settings: Settings, user: str, password: str = "") -> Settings:
    return msgspec.structs.replace(settings, mongodb_username=user, mongodb_password=password)


async def test_a_client_without_a_user_is_refused_every_command_but_the_handshake(
    provisioned: Settings,
) -> None:
    anonymous = mongo_client(as_user(provisioned, ""), "envol-anonymous")
    try:
        assert (await anonymous.admin.command("ping"))["ok"] == 1.0  # the handshake stays open
        for attempt in (
            anonymous[provisioned.database("vetting")]["applications"].find_one({}),
            anonymous[provisioned.database("vetting")]["applications"].insert_one({"_id": "forged"}),
            anonymous.list_database_names(),
        ):
            with pytest.raises(OperationFailure) as refused:
                await attempt
            assert refused.value.code == UNAUTHORIZED
    finally:
        await anonymous.close()


async def test_each_user_gets_in_with_its_own_password_and_not_with_another(provisioned: Settings) -> None:
    passwords = read_passwords(provisioned.mongodb_passwords_file, "ENVOL_MONGODB_PASSWORDS")
    assert set(DATABASE_USERS) <= set(passwords)
    for service in SERVICES:
        client = mongo_client(as_user(provisioned, service), f"envol-{service}")
        try:
            things = client[provisioned.database(service)]["users-probe"]
            await things.replace_one({"_id": service}, {"by": service}, upsert=True)
            assert await things.find_one({"_id": service}) == {"_id": service, "by": service}
        finally:
            await client.close()
    other = next(p for u, p in passwords.items() if u == AUDITOR)
    for user in SERVICES:
        wrong = mongo_client(as_user(provisioned, user, other), "envol-wrong")
        try:
            with pytest.raises(OperationFailure) as refused:
                await wrong[provisioned.database(user)]["users-probe"].find_one({})
            assert refused.value.code == AUTHENTICATION_FAILED
        finally:
            await wrong.close()


async def test_provisioning_again_adds_no_user_and_keeps_every_password(provisioned: Settings) -> None:
    before = read_passwords(provisioned.mongodb_passwords_file, "ENVOL_MONGODB_PASSWORDS")
    assert await ensure_database_users(provisioned) == []
    assert read_passwords(provisioned.mongodb_passwords_file, "ENVOL_MONGODB_PASSWORDS") == before
    vetting, auditor = (mongo_client(as_user(provisioned, u), f"envol-{u}") for u in ("vetting", AUDITOR))
    try:
        await vetting[provisioned.database("vetting")]["audited"].replace_one({"_id": 1}, {}, upsert=True)
        assert await auditor[provisioned.database("vetting")]["audited"].find_one({"_id": 1}) == {"_id": 1}
    finally:
        await vetting.close()
        await auditor.close()
