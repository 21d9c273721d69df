"""Kafka security from the environment alone: the same TLS and SASL for aiokafka clients and the broker."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import msgspec
import pytest
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLOAuthBearer, SASLPlaintext, SASLScram256, SASLScram512
from rich.pretty import pretty_repr

from services.simulator.processes import service_environment
from shared.kafka import TOKEN_LIFETIME_S, as_principal, broker_connection, client_options, librdkafka_config
from shared.settings import Settings

SCRAM = Settings(
    kafka_bootstrap_servers="b-1.example:9096",
    kafka_security_protocol="SASL_SSL",
    kafka_sasl_mechanism="SCRAM-SHA-512",
    kafka_username="envol",
    kafka_password="s3cret-pa55",
)
SSL_CA_SUBJECT = "Envol throwaway test CA"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and its key: the CA to trust, and a client certificate."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed (see the README) to make the throwaway certificate these tests trust")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={SSL_CA_SUBJECT}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_plaintext_by_default_has_no_tls_and_no_sasl() -> None:
    settings = Settings()
    assert client_options(settings) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert broker_connection(settings)["security"] is None


def test_sasl_ssl_with_scram_sha_512_gives_aiokafka_and_faststream_the_same_credentials(
    certificate: tuple[Path, Path],
) -> None:
    settings = msgspec.structs.replace(SCRAM, kafka_ssl_cafile=str(certificate[0]))
    options = client_options(settings)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "b-1.example:9096",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "envol",
        "sasl_plain_password": "s3cret-pa55",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [ca["subject"] for ca in context.get_ca_certs()] == [((("commonName", SSL_CA_SUBJECT),),)]
    security = broker_connection(settings)["security"]
    assert type(security) is SASLScram512
    assert (security.username, security.password, security.use_ssl) == ("envol", "s3cret-pa55", True)
    assert isinstance(security.ssl_context, ssl.SSLContext)
    as_broker_connects = parse_security(security)  # what FastStream hands aiokafka
    assert {k: v for k, v in as_broker_connects.items() if k != "ssl_context"} == {
        k: v for k, v in options.items() if k != "bootstrap_servers"
    }


@pytest.mark.parametrize(
    ("mechanism", "kind"),
    [("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512), ("PLAIN", SASLPlaintext)],
)
def test_sasl_without_tls_uses_the_mechanism_and_no_ssl_context(
    mechanism: str, kind: type[BaseSecurity]
) -> None:
    settings = msgspec.structs.replace(
        SCRAM, kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism=mechanism
    )
    options = client_options(settings)
    assert "ssl_context" not in options
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_PLAINTEXT", mechanism)
    security = broker_connection(settings)["security"]
    assert type(security) is kind
    assert not security.use_ssl and security.ssl_context is None


def test_ssl_alone_presents_a_client_certificate_and_no_sasl(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(cert),
        kafka_ssl_certfile=str(cert),
        kafka_ssl_keyfile=str(key),
    )
    options = client_options(settings)
    assert options["security_protocol"] == "SSL" and isinstance(options["ssl_context"], ssl.SSLContext)
    assert not any(name.startswith("sasl_") for name in options)
    security = broker_connection(settings)["security"]
    assert type(security) is BaseSecurity
    assert security.use_ssl and isinstance(security.ssl_context, ssl.SSLContext)


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"kafka_password": ""}, "KAFKA_PASSWORD"),
        ({"kafka_username": ""}, "KAFKA_USERNAME"),
        ({"kafka_security_protocol": "SASL_TLS"}, "KAFKA_SECURITY_PROTOCOL='SASL_TLS' is not one of"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "KAFKA_SASL_MECHANISM='GSSAPI' is not one of"),
        (
            {"kafka_sasl_mechanism": "OAUTHBEARER"},
            "KAFKA_SASL_MECHANISM=OAUTHBEARER needs KAFKA_OAUTH_TOKEN_FILE",
        ),
        ({"kafka_ssl_certfile": "client.pem"}, "KAFKA_SSL_KEYFILE is not set"),
        ({"kafka_ssl_keyfile": "client.key"}, "KAFKA_SSL_CERTFILE is not set"),
    ],
)
def test_an_incomplete_or_unknown_setting_is_refused_naming_its_variable(
    changes: dict[str, str], variable: str
) -> None:
    settings = msgspec.structs.replace(SCRAM, **changes)
    for build in (client_options, broker_connection, librdkafka_config):
        with pytest.raises(ValueError, match=variable):
            build(settings)


def test_settings_read_the_security_variables_from_the_environment() -> None:
    environ = {
        "KAFKA_BOOTSTRAP_SERVERS": "b-1.example:9096,b-2.example:9096",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "KAFKA_USERNAME": "envol",
        "KAFKA_PASSWORD": "s3cret-pa55",
        "KAFKA_SSL_CAFILE": "ca.pem",
        "KAFKA_SSL_CERTFILE": "client.pem",
        "KAFKA_SSL_KEYFILE": "client.key",
    }
    assert Settings.from_env(environ) == Settings(
        kafka_bootstrap_servers="b-1.example:9096,b-2.example:9096",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_username="envol",
        kafka_password="s3cret-pa55",
        kafka_ssl_cafile="ca.pem",
        kafka_ssl_certfile="client.pem",
        kafka_ssl_keyfile="client.key",
    )
    assert Settings.from_env({}) == Settings()


def test_the_service_processes_get_the_same_security() -> None:
    settings = msgspec.structs.replace(SCRAM, kafka_ssl_cafile="ca.pem")
    passed_on = Settings.from_env(service_environment(settings))
    assert {f: getattr(passed_on, f) for f in Settings.__struct_fields__ if f.startswith("kafka_")} == {
        f: getattr(settings, f) for f in Settings.__struct_fields__ if f.startswith("kafka_")
    }


def test_the_password_is_masked_wherever_settings_are_printed() -> None:
    for shown in (repr(SCRAM), str(SCRAM), pretty_repr(SCRAM), f"{SCRAM}"):
        assert "s3cret-pa55" not in shown
        assert "kafka_password='***'" in shown and "kafka_username='envol'" in shown
    assert "kafka_password=''" in repr(Settings())  # unset stays visibly unset
    keyed = msgspec.structs.replace(SCRAM, pseudonym_key="partner-key-2026")
    assert "partner-key-2026" not in repr(keyed) and "pseudonym_key='***'" in repr(keyed)


def test_librdkafka_gets_the_same_connection_as_aiokafka(certificate: tuple[Path, Path]) -> None:
    settings = msgspec.structs.replace(SCRAM, kafka_ssl_cafile=str(certificate[0]))
    assert librdkafka_config(settings) == {
        "bootstrap.servers": "b-1.example:9096",
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(certificate[0]),
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "envol",
        "sasl.password": "s3cret-pa55",
    }
    assert librdkafka_config(Settings()) == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "PLAINTEXT",
    }


def test_a_local_principal_takes_its_password_from_the_passwords_file(tmp_path: Path) -> None:
    passwords = tmp_path / "kafka-passwords"
    passwords.write_text("admin a-very-long-admin-password\nportal the-portal-password-123\n")
    local = msgspec.structs.replace(
        SCRAM, kafka_username="admin", kafka_password="", kafka_passwords_file=str(passwords)
    )
    assert client_options(local)["sasl_plain_password"] == "a-very-long-admin-password"
    portal = as_principal(local, "portal")
    assert (portal.kafka_username, client_options(portal)["sasl_plain_password"]) == (
        "portal",
        "the-portal-password-123",
    )
    with pytest.raises(ValueError, match="no password for partner"):
        client_options(as_principal(local, "partner"))
    assert as_principal(SCRAM, "portal") is SCRAM  # no passwords file: the process's one principal


def unsigned_token(subject: str, expires: int) -> str:
    """An unsecured JWT (no signature), as a test issuer would give one, issued a minute ago."""
    parts = ({"alg": "none"}, {"sub": subject, "iat": int(time.time()) - 60, "exp": expires})
    return (
        ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") for p in parts) + "."
    )


async def test_oauthbearer_reads_the_token_file_at_each_authentication_in_every_client(
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "token"
    first, refreshed = unsigned_token("vetting", 2_000_000_000), unsigned_token("vetting", 2_000_000_600)
    token_file.write_text(first + "\n")
    settings = msgspec.structs.replace(
        SCRAM, kafka_sasl_mechanism="OAUTHBEARER", kafka_oauth_token_file=str(token_file), kafka_password=""
    )
    options = client_options(settings)
    assert options["sasl_mechanism"] == "OAUTHBEARER" and "sasl_plain_password" not in options
    assert await options["sasl_oauth_token_provider"].token() == first
    connection = broker_connection(settings)
    assert isinstance(connection["security"], SASLOAuthBearer)
    config = librdkafka_config(settings)
    assert config["sasl.mechanism"] == "OAUTHBEARER" and "sasl.password" not in config
    token_file.write_text(refreshed)  # its issuer refreshed it
    assert config["oauth_cb"]("") == (refreshed, 2_000_000_600.0)
    assert await connection["sasl_oauth_token_provider"].token() == refreshed
    token_file.write_text("an opaque token, not a JWT")
    token, expiry = config["oauth_cb"]("")
    assert token == "an opaque token, not a JWT" and 0 < expiry - time.time() <= TOKEN_LIFETIME_S
    token_file.write_text("")
    with pytest.raises(ValueError, match="KAFKA_OAUTH_TOKEN_FILE is empty"):
        config["oauth_cb"]("")
