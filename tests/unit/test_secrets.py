"""No default secrets outside local runs: production refuses a published, empty or short secret, naming its
variable and never its value; local mode accepts the defaults; only placement needs the pseudonym key."""

from __future__ import annotations

import importlib
from pathlib import Path

import msgspec
import pytest
from faststream import FastStream

from services.simulator.processes import SERVICES, ServiceProcesses, service_environment
from shared.settings import (
    LOCAL_PSEUDONYM_KEY,
    Settings,
    UnsafeSettingsError,
    check_secrets,
    without_password,
)

PRODUCTION = Settings(mode="production")
GOOD_KEY = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c"  # 32 characters
GOOD_PASSWORD = "correct-horse-battery"  # 21


def create_app(service: str, settings: Settings) -> FastStream:
    app: FastStream = importlib.import_module(f"services.{service}.main").create_app(settings)
    return app


def test_the_mode_is_production_unless_set() -> None:
    assert Settings().mode == "production"
    assert Settings.from_env({}).mode == "production"
    assert Settings.from_env({"ENVOL_MODE": ""}).mode == "production"
    assert Settings.from_env({"ENVOL_MODE": "local"}).mode == "local"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (LOCAL_PSEUDONYM_KEY, "is unset, empty or the local default"),
        ("change-me-outside-local-runs", "is a key published with Envol"),  # docker-compose.yml's former one
        ("", "is unset, empty or the local default"),
        ("s3cret-but-only-31-characters!!", "is shorter than 32 characters"),
    ],
    ids=["default", "compose-default", "empty", "short"],
)
def test_production_refuses_an_unfit_pseudonym_key_naming_the_variable_not_the_value(
    key: str, problem: str
) -> None:
    settings = msgspec.structs.replace(PRODUCTION, pseudonym_key=key)
    with pytest.raises(UnsafeSettingsError) as refused:
        check_secrets(settings, "pseudonym_key")
    message = str(refused.value)
    assert message.startswith(f"ENVOL_PSEUDONYM_KEY {problem}: it needs a secret of its own of at least 32")
    assert "ENVOL_MODE=local" in message
    assert not key or key not in message


def test_an_empty_variable_is_refused_like_a_missing_one() -> None:
    environ = {"ENVOL_MODE": "production"}
    with pytest.raises(UnsafeSettingsError) as missing:
        check_secrets(Settings.from_env(environ), "pseudonym_key")
    with pytest.raises(UnsafeSettingsError) as empty:
        check_secrets(Settings.from_env(environ | {"ENVOL_PSEUDONYM_KEY": ""}), "pseudonym_key")
    assert str(empty.value) == str(missing.value)
    assert "ENVOL_PSEUDONYM_KEY is unset, empty or the local default" in str(empty.value)


def test_a_key_of_32_characters_or_more_passes() -> None:
    for key in (GOOD_KEY, GOOD_KEY * 2):
        check_secrets(msgspec.structs.replace(PRODUCTION, pseudonym_key=key), "pseudonym_key")
    check_secrets(Settings.from_env({"ENVOL_PSEUDONYM_KEY": GOOD_KEY}), "pseudonym_key", "kafka_password")


def test_production_refuses_a_kafka_password_that_is_set_but_short() -> None:
    check_secrets(PRODUCTION, "kafka_password")  # unset: a broker without SASL takes none
    check_secrets(msgspec.structs.replace(PRODUCTION, kafka_password=GOOD_PASSWORD), "kafka_password")
    check_secrets(msgspec.structs.replace(PRODUCTION, kafka_password="x" * 16), "kafka_password")
    short = msgspec.structs.replace(PRODUCTION, kafka_password="hunter2-hunter2")  # 15
    with pytest.raises(UnsafeSettingsError) as refused:
        check_secrets(short, "kafka_password")
    message = str(refused.value)
    assert message.startswith("KAFKA_PASSWORD is set but shorter than 16 characters")
    assert "hunter2" not in message


def test_every_unfit_secret_is_named_at_once() -> None:
    settings = msgspec.structs.replace(PRODUCTION, kafka_password="pa55word")
    with pytest.raises(UnsafeSettingsError, match=r"^KAFKA_PASSWORD .*; ENVOL_PSEUDONYM_KEY ") as refused:
        check_secrets(settings, "kafka_password", "pseudonym_key")
    assert "pa55word" not in str(refused.value)


def test_local_mode_accepts_the_defaults() -> None:
    for settings in (
        Settings(mode="local"),
        Settings(mode="local", pseudonym_key="", kafka_password="short"),
        Settings.from_env({"ENVOL_MODE": "local", "ENVOL_PSEUDONYM_KEY": ""}),
    ):
        check_secrets(settings, "pseudonym_key", "kafka_password")


def test_an_unknown_mode_is_refused_naming_the_variable() -> None:
    for mode in ("prod", "Local", "dev"):
        with pytest.raises(UnsafeSettingsError, match=f"ENVOL_MODE='{mode}' is not one of local, production"):
            check_secrets(Settings(mode=mode))


def test_placement_refuses_to_start_on_the_default_key_and_says_why() -> None:
    with pytest.raises(SystemExit) as refused:
        create_app("placement", PRODUCTION)
    assert str(refused.value.code).startswith(
        "envol-placement refuses to start: ENVOL_PSEUDONYM_KEY is unset"
    )
    assert LOCAL_PSEUDONYM_KEY not in str(refused.value.code)
    create_app("placement", msgspec.structs.replace(PRODUCTION, pseudonym_key=GOOD_KEY))
    create_app("placement", Settings(mode="local"))


@pytest.mark.parametrize("service", ["application", "vetting", "departure"])
def test_the_other_services_do_not_need_the_pseudonym_key(service: str) -> None:
    for key in (LOCAL_PSEUDONYM_KEY, ""):
        create_app(service, msgspec.structs.replace(PRODUCTION, pseudonym_key=key))


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_refuses_to_start_on_a_short_kafka_password(service: str) -> None:
    settings = msgspec.structs.replace(PRODUCTION, pseudonym_key=GOOD_KEY, kafka_password="tiny-pass")
    with pytest.raises(SystemExit) as refused:
        create_app(service, settings)
    message = str(refused.value.code)
    assert message.startswith(f"envol-{service} refuses to start: KAFKA_PASSWORD is set but shorter")
    assert "tiny-pass" not in message


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_refuses_to_start_on_a_short_database_password(service: str) -> None:
    settings = msgspec.structs.replace(
        PRODUCTION, pseudonym_key=GOOD_KEY, mongodb_username=service, mongodb_password="tiny-pass"
    )
    with pytest.raises(SystemExit) as refused:
        create_app(service, settings)
    message = str(refused.value.code)
    assert message.startswith(f"envol-{service} refuses to start: MONGODB_PASSWORD is set but shorter")
    assert "tiny-pass" not in message


def test_the_processes_the_simulator_starts_run_in_local_mode_and_only_placement_gets_the_key(
    tmp_path: Path,
) -> None:
    assert service_environment(PRODUCTION)["ENVOL_MODE"] == "local"
    processes = ServiceProcesses(Settings(pseudonym_key=GOOD_KEY), tmp_path)
    for name in (*SERVICES, "placement#2"):
        environment = processes.environment_of(name)
        assert environment["ENVOL_MODE"] == "local"
        assert ("ENVOL_PSEUDONYM_KEY" in environment) == name.startswith("placement")
    assert processes.environment_of("placement#2")["ENVOL_PSEUDONYM_KEY"] == GOOD_KEY
    assert processes.environment_of("placement#2")["ENVOL_INSTANCE"] == "2"


def test_a_database_password_in_the_url_is_masked_wherever_settings_are_printed() -> None:
    settings = Settings(mongodb_url="mongodb://placement:db-pa55word@db.example:27017/envol_placement")
    for shown in (repr(settings), str(settings), f"{settings}"):
        assert "db-pa55word" not in shown
        assert "mongodb://placement:***@db.example:27017/envol_placement" in shown
    assert without_password("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"  # no user: as is
    assert settings.mongodb_url.endswith("db-pa55word@db.example:27017/envol_placement")  # the client's own
