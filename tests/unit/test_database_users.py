"""Who a database client authenticates as, and the database's roles table."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from services.grants import AUDITOR, DATABASE_USERS, SERVICES, VIEWS, database_roles
from services.simulator.processes import ServiceProcesses
from shared.mongo import credentials
from shared.settings import Settings

LOCAL = Settings(mode="local", database_prefix="run1")


def test_without_a_username_the_client_takes_the_urls_own_user_or_none() -> None:
    assert credentials(Settings()) == {}
    assert credentials(Settings(mongodb_url="mongodb://vetting:long-enough-password@db/")) == {}


def test_a_username_takes_its_password_from_the_setting_or_else_the_passwords_file(tmp_path: Path) -> None:
    passwords = tmp_path / "mongodb-passwords"
    passwords.write_text("admin the-admin-password-0123\nvetting the-vetting-password-45\n")
    local = msgspec.structs.replace(LOCAL, mongodb_passwords_file=str(passwords))
    vetting = msgspec.structs.replace(local, mongodb_username="vetting")
    assert credentials(vetting) == {
        "username": "vetting",
        "password": "the-vetting-password-45",
        "authSource": "admin",
    }
    given = msgspec.structs.replace(vetting, mongodb_password="given-apart-password-678")
    assert credentials(given)["password"] == "given-apart-password-678"
    with pytest.raises(ValueError, match="ENVOL_MONGODB_PASSWORDS has no password for placement"):
        credentials(msgspec.structs.replace(local, mongodb_username="placement"))
    with pytest.raises(ValueError, match="MONGODB_USERNAME needs MONGODB_PASSWORD"):
        credentials(msgspec.structs.replace(LOCAL, mongodb_username="vetting"))


def test_the_database_password_is_masked_wherever_settings_are_printed() -> None:
    settings = Settings(mongodb_username="vetting", mongodb_password="db-secret-value-9876")
    assert "db-secret-value-9876" not in repr(settings)
    assert "mongodb_password='***'" in repr(settings)


def test_each_service_reads_and_writes_its_own_database_and_no_other() -> None:
    table = database_roles(LOCAL)
    for service in SERVICES:
        own = [(r.role, r.database) for r in table if r.user == service]
        assert own == [("readWrite", LOCAL.database(service))]


def test_the_auditor_reads_every_services_database_and_writes_only_the_operators_own() -> None:
    table = database_roles(LOCAL)
    audited = {r.database for r in table if r.user == AUDITOR and r.role == "read"}
    assert audited == {LOCAL.database(service) for service in SERVICES}
    written = {r.database for r in table if r.user == AUDITOR and r.role != "read"}
    assert written == {LOCAL.database(VIEWS)} and LOCAL.database(VIEWS) not in audited
    assert {r.user for r in table} == set(DATABASE_USERS)


def test_on_the_local_stack_each_service_process_is_its_own_database_user(tmp_path: Path) -> None:
    local = msgspec.structs.replace(
        LOCAL, mongodb_username="admin", mongodb_passwords_file=str(tmp_path / "mongodb-passwords")
    )
    processes = ServiceProcesses(local, tmp_path)
    for name in (*SERVICES, "placement#2"):
        environment = processes.environment_of(name)
        assert environment["MONGODB_USERNAME"] == name.partition("#")[0]
        assert environment["MONGODB_PASSWORD"] == ""
    elsewhere = ServiceProcesses(msgspec.structs.replace(LOCAL, mongodb_username="envol"), tmp_path)
    assert elsewhere.environment_of("vetting")["MONGODB_USERNAME"] == "envol"  # no file: the one user given
