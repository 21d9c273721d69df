"""How every Kafka client of Envol reaches the brokers: addresses, TLS and SASL, from the settings alone.

The services' brokers, the admin client, the operators' tools, the simulator and the tests all connect
through these functions, so one environment points all of them at a managed cluster (Strimzi, MSK,
Confluent) and none is left speaking PLAINTEXT to it. PLAINTEXT is the default of the settings; the local
stack runs SASL_SSL (deploy/local/kafka.sh), its passwords in a local file (`kafka_passwords_file`).
"""

from __future__ import annotations

from ssl import SSLContext
from typing import Any

import msgspec
from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import Settings, password_in_file

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
NOT_SUPPORTED_YET = ("OAUTHBEARER",)  # needs a token provider, which no setting gives yet


def client_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of an aiokafka producer, consumer or admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": _protocol(settings),
    }
    if _uses_ssl(settings):
        options["ssl_context"] = _ssl_context(settings)
    if _uses_sasl(settings):
        username, password = _credentials(settings)
        options |= {
            "sasl_mechanism": _mechanism(settings),
            "sasl_plain_username": username,
            "sasl_plain_password": password,
        }
    return options


def librdkafka_config(settings: Settings) -> dict[str, Any]:
    """The same connection as `client_options`, for a client built on librdkafka (confluent-kafka)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": _protocol(settings),
    }
    if _uses_ssl(settings):
        _ssl_context(settings)  # the same checks
        optional = {
            "ssl.ca.location": settings.kafka_ssl_cafile,
            "ssl.certificate.location": settings.kafka_ssl_certfile,
            "ssl.key.location": settings.kafka_ssl_keyfile,
        }
        config |= {name: value for name, value in optional.items() if value}
    if _uses_sasl(settings):
        username, password = _credentials(settings)
        config |= {
            "sasl.mechanism": _mechanism(settings),
            "sasl.username": username,
            "sasl.password": password,
        }
    return config


def as_principal(settings: Settings, principal: str) -> Settings:
    """The settings of another principal of the local stack, whose password is in `kafka_passwords_file`
    (the simulator plays every outside source, each with its own; tests try each). Unchanged without it:
    elsewhere a process has one principal, given by its environment."""
    if not settings.kafka_passwords_file:
        return settings
    return msgspec.structs.replace(settings, kafka_username=principal, kafka_password="")


def broker_security(settings: Settings) -> BaseSecurity | None:
    """The `security=` of a FastStream KafkaBroker: the same protocol, TLS and credentials as
    `client_options`, in FastStream's terms (None for PLAINTEXT, so the local broker is built as before)."""
    if _protocol(settings) == "PLAINTEXT":
        return None
    ssl_context = _ssl_context(settings) if _uses_ssl(settings) else None
    if not _uses_sasl(settings):
        return BaseSecurity(ssl_context=ssl_context)
    return SASL[_mechanism(settings)](*_credentials(settings), ssl_context=ssl_context)


def _protocol(settings: Settings) -> str:
    """The security protocol, refused when unknown: aiokafka would name its own argument, not the variable."""
    protocol = settings.kafka_security_protocol
    if protocol not in PROTOCOLS:
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of {', '.join(PROTOCOLS)}")
    return protocol


def _uses_ssl(settings: Settings) -> bool:
    return _protocol(settings) in ("SSL", "SASL_SSL")


def _uses_sasl(settings: Settings) -> bool:
    return _protocol(settings).startswith("SASL_")


def _mechanism(settings: Settings) -> str:
    """The SASL mechanism, refused when FastStream and aiokafka could not both speak it from settings."""
    mechanism = settings.kafka_sasl_mechanism
    if mechanism in NOT_SUPPORTED_YET:
        raise ValueError(
            f"KAFKA_SASL_MECHANISM={mechanism} is not supported yet; use one of {', '.join(SASL)}"
        )
    if mechanism not in SASL:
        raise ValueError(f"KAFKA_SASL_MECHANISM={mechanism!r} is not one of {', '.join(SASL)}")
    return mechanism


def _credentials(settings: Settings) -> tuple[str, str]:
    """The SASL username and password, both required: a broker would only say that authentication
    failed, not which variable is missing. Without KAFKA_PASSWORD, the password is the username's line
    of `kafka_passwords_file` (`<name> <password>` per line; the local stack writes it)."""
    password = settings.kafka_password or password_in_file(
        settings.kafka_passwords_file, "ENVOL_KAFKA_PASSWORDS", settings.kafka_username
    )
    for variable, value in (("KAFKA_USERNAME", settings.kafka_username), ("KAFKA_PASSWORD", password)):
        if not value:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs {variable}")
    return settings.kafka_username, password


def _ssl_context(settings: Settings) -> SSLContext:
    """A context that verifies the brokers' certificates and host names, against KAFKA_SSL_CAFILE or the
    system's CAs, and presents a client certificate when one is given with its key."""
    certfile, keyfile = settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile
    if bool(certfile) != bool(keyfile):
        missing = "KAFKA_SSL_KEYFILE" if certfile else "KAFKA_SSL_CERTFILE"
        raise ValueError(
            f"a client certificate needs KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE; {missing} is not set"
        )
    context: SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile or None, certfile=certfile or None, keyfile=keyfile or None
    )
    return context
