"""`make topics`: create every topic, then the principals and the grants table, idempotently, as the admin;
then the database's users and roles (`ensure_database_users`).

Grants go through confluent-kafka's admin client (aiokafka has no ACL calls). A grant of this namespace's
resources that the table no longer holds is removed, so the broker holds the table and nothing else. On the
local stack (a passwords file) each principal gets a SCRAM-SHA-512 user with a random password kept in that
file; elsewhere the users are the platform's (a Strimzi KafkaUser, an MSK secret) and only grants are applied.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from aiokafka.errors import KafkaError as AIOKafkaError
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)
from pymongo.errors import PyMongoError

from services.grants import DATABASE_USERS, PRINCIPALS, Grant, database_roles, grants
from shared.admin import align_topics, ensure_topics
from shared.kafka import librdkafka_config
from shared.mongo import mongo_client
from shared.settings import Settings, read_passwords

TIMEOUT = 30.0
RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}


def binding(grant: Grant) -> AclBinding:
    """The broker's ACL for one grant (from any host)."""
    pattern = ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL
    return AclBinding(
        RESOURCE[grant.resource],
        grant.name,
        pattern,
        f"User:{grant.principal}",
        "*",
        AclOperation[grant.operation.value],
        AclPermissionType.ALLOW,
    )


def admin_client(settings: Settings) -> AdminClient:
    """librdkafka's admin client, logging warnings and errors only (its info lines are noise here)."""
    return AdminClient(librdkafka_config(settings) | {"log_level": 4})


class NoAuthorizerError(RuntimeError):
    """The broker enforces no ACLs (a plaintext development broker): the grants cannot be applied."""


def apply_grants(settings: Settings) -> tuple[int, int]:
    """Make the broker's ACLs on this namespace's resources those of the table; return (added, removed)."""
    try:
        return _apply_grants(admin_client(settings), settings)
    except KafkaException as error:
        if error.args[0].code() == KafkaError.SECURITY_DISABLED:
            raise NoAuthorizerError("the broker has no authorizer: every client may do everything") from None
        raise


def _apply_grants(admin: AdminClient, settings: Settings) -> tuple[int, int]:
    wanted = {binding(g) for g in grants(settings)}
    anything: str = None  # type: ignore[assignment]  # a filter's None matches any name, principal, host
    every = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    existing = set(admin.describe_acls(every, request_timeout=TIMEOUT).result())
    names = {b.name for b in wanted}
    stale = [b for b in existing if b.name in names and b not in wanted]
    missing = [b for b in wanted if b not in existing]
    if missing:
        _wait(admin.create_acls(missing, request_timeout=TIMEOUT).values())
    if stale:
        filters = [
            AclBindingFilter(
                b.restype,
                b.name,
                b.resource_pattern_type,
                b.principal,
                b.host,
                b.operation,
                b.permission_type,
            )
            for b in stale
        ]
        _wait(admin.delete_acls(filters, request_timeout=TIMEOUT).values())

    def applied() -> bool:
        now = set(admin.describe_acls(every, request_timeout=TIMEOUT).result())
        return wanted <= now and not now & set(stale)

    if missing or stale:
        _until(applied, "the broker did not apply the grants")
    return len(missing), len(stale)


def _until(done: Callable[[], bool], failure: str) -> None:
    """Wait until `done()`: what the controller committed, the broker we talk to applies a moment later,
    and until then refuses what it allows (logins, grants). It describes from the same state it enforces."""
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{failure} within {TIMEOUT:.0f}s")
        time.sleep(0.1)


def ensure_users(settings: Settings) -> list[str]:
    """Give every principal of the table a SCRAM user (local stack only); return the names added."""
    if not settings.kafka_passwords_file:
        return []
    known = read_passwords(settings.kafka_passwords_file, "ENVOL_KAFKA_PASSWORDS")
    admin = admin_client(settings)
    existing = _scram_users(admin, PRINCIPALS)
    missing = [p for p in PRINCIPALS if p not in existing or p not in known]
    if not missing:
        return []
    known = add_passwords(settings.kafka_passwords_file, known, missing)
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(p, info, known[p].encode()) for p in missing
    ]
    _wait(admin.alter_user_scram_credentials(upserts, request_timeout=TIMEOUT).values())
    _until(lambda: set(missing) <= _scram_users(admin, missing), f"the broker did not list {missing}")
    return missing


def _scram_users(admin: AdminClient, names: Sequence[str]) -> set[str]:
    """Which of `names` the broker knows as SCRAM users."""
    described = admin.describe_user_scram_credentials(list(names), request_timeout=TIMEOUT)
    assert isinstance(described, dict)  # one future per user named
    found = set()
    for user, future in described.items():
        try:
            future.result()
            found.add(user)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.RESOURCE_NOT_FOUND:
                raise
    return found


async def ensure_database_users(settings: Settings) -> list[str]:
    """Give every user of the database table its user and roles (local stack only: a passwords file);
    return the names added. FerretDB v1 stores no roles (its `createUser` refuses any): there a user
    authenticates and may then use every database, so the roles reach the server only on MongoDB."""
    if not settings.mongodb_passwords_file:
        return []
    if not settings.mongodb_username:
        raise ValueError(
            "ENVOL_MONGODB_PASSWORDS is set but MONGODB_USERNAME is not: the users are made as admin"
        )
    known = read_passwords(settings.mongodb_passwords_file, "ENVOL_MONGODB_PASSWORDS")
    client = mongo_client(settings, "envol-provision")
    try:
        admin = client.admin
        ferretdb = "ferretdbVersion" in await admin.command("buildInfo")
        existing = {user["user"] for user in (await admin.command("usersInfo"))["users"]}
        missing = [u for u in DATABASE_USERS if u not in existing or u not in known]
        known = add_passwords(settings.mongodb_passwords_file, known, missing)
        table = database_roles(settings)
        for user in DATABASE_USERS:
            roles = [] if ferretdb else [{"role": r.role, "db": r.database} for r in table if r.user == user]
            password = {"pwd": known[user]} if user in missing else {}
            command = "updateUser" if user in existing else "createUser"
            if password or not ferretdb:
                await admin.command({command: user, "roles": roles, **password})
    finally:
        await client.close()
    return missing


def add_passwords(path: str, known: dict[str, str], names: Iterable[str]) -> dict[str, str]:
    """Draw a password for each of `names` that `known` lacks, and write them all to the passwords file
    first, so a crash before the users are made is mended next time; return every password. A file that
    holds them all already is left as it is (compose mounts it read-only: deploy/compose/secrets.sh)."""
    drawn = {name: secrets.token_hex(24) for name in names if name not in known}
    if not drawn:
        return known
    known = known | drawn
    written = Path(path).with_suffix(".new")
    written.write_text("".join(f"{name} {password}\n" for name, password in known.items()))
    written.chmod(0o600)
    written.replace(path)
    return known


def _wait(futures: Iterable[object]) -> None:
    """Wait for every future; the first error (denied, invalid) is raised, never dropped."""
    for future in futures:
        future.result()  # type: ignore[attr-defined]


async def provision(settings: Settings) -> str:
    """Create the topics, set existing ones' configuration to the table's, apply the users and grants; say
    what changed, and what differs still (partitions, replication: an operator reassigns them)."""
    created = await ensure_topics(settings)
    topics = f"created {len(created)} topics" + (f": {', '.join(created)}" if created else " (all existed)")
    aligned, differing = await align_topics(settings)
    topics += f"; configuration set to the table's on {len(aligned)} topics" if aligned else ""
    if differing:
        lines = "\n  ".join(map(str, differing))
        topics += f"; {len(differing)} topic settings differ from the table, to change by hand:\n  {lines}\n"
    users = await asyncio.to_thread(ensure_users, settings)
    topics += f"; users added: {', '.join(users)}" if users else ""
    database_users = await ensure_database_users(settings)
    topics += f"; database users added: {', '.join(database_users)}" if database_users else ""
    try:
        added, removed = await asyncio.to_thread(apply_grants, settings)
    except NoAuthorizerError as error:
        return f"{topics}; grants NOT applied: {error}"
    return f"{topics}; grants: {added} added, {removed} removed, {len(grants(settings))} in the table"


def main() -> None:
    """Provision, or say in one line why not (exit 1): an operator tool never ends on a traceback."""
    try:
        print(asyncio.run(provision(Settings.from_env())))
    except (ValueError, RuntimeError, PyMongoError, KafkaException, AIOKafkaError) as error:
        raise SystemExit(f"make topics failed: {type(error).__name__}: {error}") from None


if __name__ == "__main__":
    main()
