"""docker-compose.yml without a Docker engine: loaded by compose-go (the library Docker Compose is built on:
the Compose Specification's schema, interpolation, references) with the secrets deploy/compose/secrets.sh
draws, then checked for what the secured stack needs: each process gets its own passwords and no other's,
no password is in any environment, the broker and the database run with authentication, ports stay on
this machine. tests/integration/test_compose_broker.py runs the broker's own settings for real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.grants import ADMIN, AUDITOR, DATABASE_USERS, OPERATOR, PRINCIPALS, SERVICES
from tests.compose import COMPOSE, ROOT, build_checker, draw_secrets, load
from tests.compose import passwords as lines
from tests.compose import project as loaded_project

# who each long-running process authenticates as: (Kafka principal, database user)
PROCESSES = {**{name: (name, name) for name in SERVICES}, "console": (OPERATOR, AUDITOR)}


@pytest.fixture(scope="module")
def checker() -> str:
    return build_checker()


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return draw_secrets(tmp_path_factory.mktemp("compose") / ".secrets")


@pytest.fixture(scope="module")
def project(checker: str, secrets: Path) -> dict[str, Any]:
    return loaded_project(checker, secrets)


def test_compose_will_not_start_before_the_secrets_are_drawn(checker: str, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("")
    done = load(checker, tmp_path / ".env")
    assert done.returncode != 0
    assert "ENVOL_PSEUDONYM_KEY" in done.stderr and "deploy/compose/secrets.sh" in done.stderr


def test_the_secrets_script_draws_a_password_for_every_principal_and_user_of_the_tables(
    secrets: Path,
) -> None:
    assert set(lines(secrets / "kafka-passwords")) == {ADMIN, *PRINCIPALS}
    assert set(lines(secrets / "mongodb-passwords")) == {ADMIN, *DATABASE_USERS}
    passwords = [*lines(secrets / "kafka-passwords").values(), *lines(secrets / "mongodb-passwords").values()]
    assert len(set(passwords)) == len(passwords) and all(len(p) >= 32 for p in passwords)
    assert (secrets / "mongodb-admin-password").read_text() == lines(secrets / "mongodb-passwords")[ADMIN]
    assert (secrets.parent / ".env").read_text().startswith("ENVOL_PSEUDONYM_KEY=")
    assert oct(secrets.stat().st_mode & 0o777) == "0o700"


def test_drawing_again_keeps_every_secret(secrets: Path) -> None:
    before = {path.name: path.read_bytes() for path in secrets.iterdir()}
    env_before = (secrets.parent / ".env").read_text()
    draw_secrets(secrets)
    assert {path.name: path.read_bytes() for path in secrets.iterdir()} == before
    assert (secrets.parent / ".env").read_text() == env_before


def test_every_secret_compose_names_is_a_file_the_script_draws(
    project: dict[str, Any], secrets: Path
) -> None:
    named = {Path(secret["file"]).name for secret in project["secrets"].values()}
    assert named <= {path.name for path in secrets.iterdir()}, named - {p.name for p in secrets.iterdir()}


def mounted(project: dict[str, Any], service: str) -> dict[str, str]:
    """The secrets a service gets: the file inside the container -> the secret's file."""
    files = {name: Path(secret["file"]).name for name, secret in project["secrets"].items()}
    return {
        str(Path("/run/secrets") / (s.get("target") or s["source"])): files[s["source"]]
        for s in project["services"][service].get("secrets", [])
    }


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_gets_its_own_passwords_and_no_other(
    project: dict[str, Any], secrets: Path, name: str
) -> None:
    service = project["services"][name]
    environment, files = service["environment"], mounted(project, name)
    principal, user = PROCESSES[name]
    assert environment["KAFKA_USERNAME"] == principal and environment["MONGODB_USERNAME"] == user
    console = {environment["ENVOL_CONSOLE_PASSWORDS"]} if name == "console" else set()  # its operators'
    assert set(files) == {
        environment["ENVOL_KAFKA_PASSWORDS"],
        environment["ENVOL_MONGODB_PASSWORDS"],
        *console,
    }
    assert ("ENVOL_CONSOLE_PASSWORDS" in environment) == (name == "console")
    assert list(lines(secrets / files[environment["ENVOL_KAFKA_PASSWORDS"]])) == [principal]
    assert list(lines(secrets / files[environment["ENVOL_MONGODB_PASSWORDS"]])) == [user]
    assert environment["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and environment["KAFKA_SSL_CAFILE"]
    assert environment["ENVOL_MODE"] == "production"
    assert ("ENVOL_PSEUDONYM_KEY" in environment) == (name == "placement")


def test_only_the_admins_jobs_hold_every_password(project: dict[str, Any]) -> None:
    holders = {
        name
        for name in project["services"]
        if {"kafka-passwords", "mongodb-passwords"} & set(mounted(project, name).values())
    }
    assert holders == {"kafka", "topics"}
    topics = project["services"]["topics"]
    assert topics["environment"]["KAFKA_USERNAME"] == ADMIN == topics["environment"]["MONGODB_USERNAME"]
    for name in PROCESSES:  # a service starts once the topics, users and grants are made
        depends_on = project["services"][name]["depends_on"]
        assert depends_on["topics"]["condition"] == "service_completed_successfully"


def test_no_password_or_key_is_written_into_the_file_or_an_environment(
    project: dict[str, Any], secrets: Path
) -> None:
    values = [
        *lines(secrets / "kafka-passwords").values(),
        *lines(secrets / "mongodb-passwords").values(),
        *lines(secrets / "console-passwords").values(),
    ]
    key = (secrets.parent / ".env").read_text().strip().split("=", 1)[1]
    text = json.dumps(project["services"])
    assert not [v for v in values if v in text]
    assert text.count(key) == 1  # placement's environment alone (test_each_process_gets_its_own_…)
    assert key not in COMPOSE.read_text() and not [v for v in values if v in COMPOSE.read_text()]


def test_the_broker_runs_the_local_stacks_secured_script_on_the_images_jars(project: dict[str, Any]) -> None:
    kafka = project["services"]["kafka"]
    assert kafka["entrypoint"] == ["bash", "/envol/kafka.sh", "run"]
    [script] = [v for v in kafka["volumes"] if v["target"] == "/envol"]
    assert Path(script["source"]) == ROOT / "deploy" / "local" and script["read_only"]
    environment = kafka["environment"]
    assert "KAFKA_PLAINTEXT" not in environment
    assert environment["KAFKA_PASSWORDS_FILE"] in mounted(project, "kafka")
    # the certificate names every address a client is given
    san = environment["KAFKA_CERT_SAN"].split(",")
    assert f"dns:{environment['KAFKA_HOST']}" in san and f"dns:{environment['KAFKA_EXTERNAL_HOST']}" in san
    bootstrap = project["services"]["vetting"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap == f"{environment['KAFKA_HOST']}:{environment['KAFKA_PORT']}"
    exported = Path(environment["KAFKA_CA_EXPORT"])
    ca = {v["target"]: v["source"] for v in kafka["volumes"]}[str(exported.parent)]
    client = {v["source"]: v for v in project["services"]["vetting"]["volumes"]}[ca]
    assert client["read_only"] and project["services"]["vetting"]["environment"]["KAFKA_SSL_CAFILE"] == (
        f"{client['target']}/{exported.name}"
    )


def test_the_database_runs_with_access_control(project: dict[str, Any]) -> None:
    mongo = project["services"]["mongo"]
    command = mongo["command"]
    assert command[command.index("--keyFile") + 1] == "/etc/mongo-keyfile"  # keyFile implies --auth
    assert "/run/secrets/mongodb-keyfile /etc/mongo-keyfile" in mongo["entrypoint"][2]
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD_FILE"] in mounted(project, "mongo")
    assert "-u admin" in mongo["healthcheck"]["test"][1]


def test_every_published_port_is_on_this_machine_only(project: dict[str, Any]) -> None:
    published = [(name, port) for name, s in project["services"].items() for port in s.get("ports", [])]
    assert published and all(port["host_ip"] == "127.0.0.1" for _, port in published), published
