"""How every Kafka client of Envol reaches the brokers: addresses, TLS and SASL, from the settings alone.

The services' brokers, the admin client, the operators' tools, the simulator and the tests all connect
through these functions, so one environment points all of them at a managed cluster (Strimzi, MSK,
Confluent) and none is left speaking PLAINTEXT to it. PLAINTEXT is the default of the settings; the local
stack runs SASL_SSL (deploy/local/kafka.sh), its passwords in a local file (`kafka_passwords_file`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from ssl import SSLContext
from typing import Any

import msgspec
from aiokafka.abc import AbstractTokenProvider
from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLOAuthBearer, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import Settings, password_in_file

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
OAUTHBEARER = "OAUTHBEARER"  # a bearer token from KAFKA_OAUTH_TOKEN_FILE (`TokenFile`)
MECHANISMS = (*SASL, OAUTHBEARER)
TOKEN_LIFETIME_S = 300  # what a token that says no expiry is taken to last before it is read again


class TokenFile(AbstractTokenProvider):  # type: ignore[misc]  # aiokafka has no type hints
    """An OAuth bearer token read from a file at each (re)authentication. Whatever obtains and refreshes
    the token (an OIDC client, a platform's projected service-account token) writes the file; Envol only
    reads it, so no client secret reaches the services."""

    def __init__(self, path: str) -> None:
        self.path = path

    async def token(self) -> str:
        return await asyncio.to_thread(read_token, self.path)


def read_token(path: str) -> str:
    """The token in the file, or a ValueError naming the setting."""
    try:
        token = Path(path).read_text().strip()
    except OSError as error:
        raise ValueError(f"KAFKA_OAUTH_TOKEN_FILE cannot be read ({type(error).__name__})") from None
    if not token:
        raise ValueError("KAFKA_OAUTH_TOKEN_FILE is empty")
    return token


def token_expiry(token: str, now: float) -> float:
    """When a token expires (epoch seconds): a JWT's `exp`, else `TOKEN_LIFETIME_S` from now."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return now + TOKEN_LIFETIME_S


def client_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of an aiokafka producer, consumer or admin client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": _protocol(settings),
    }
    if _uses_ssl(settings):
        options["ssl_context"] = _ssl_context(settings)
    if _uses_sasl(settings) and _mechanism(settings) == OAUTHBEARER:
        options |= {
            "sasl_mechanism": OAUTHBEARER,
            "sasl_oauth_token_provider": TokenFile(_token_file(settings)),
        }
    elif _uses_sasl(settings):
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
    if _uses_sasl(settings) and _mechanism(settings) == OAUTHBEARER:
        path = _token_file(settings)

        def oauth_cb(_: object) -> tuple[str, float]:
            token = read_token(path)
            return token, token_expiry(token, time.time())

        config |= {"sasl.mechanism": OAUTHBEARER, "oauth_cb": oauth_cb}
    elif _uses_sasl(settings):
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


def broker_connection(settings: Settings) -> dict[str, Any]:
    """The connection arguments of a FastStream KafkaBroker: its `security=` (the same protocol, TLS and
    credentials as `client_options`, in FastStream's terms; None for PLAINTEXT) and, for OAUTHBEARER, the
    token provider FastStream hands to aiokafka."""
    if _protocol(settings) == "PLAINTEXT":
        return {"security": None}
    ssl_context = _ssl_context(settings) if _uses_ssl(settings) else None
    if not _uses_sasl(settings):
        return {"security": BaseSecurity(ssl_context=ssl_context)}
    if _mechanism(settings) == OAUTHBEARER:
        return {
            "security": SASLOAuthBearer(ssl_context=ssl_context),
            "sasl_oauth_token_provider": TokenFile(_token_file(settings)),
        }
    return {"security": SASL[_mechanism(settings)](*_credentials(settings), ssl_context=ssl_context)}


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
    if mechanism not in MECHANISMS:
        raise ValueError(f"KAFKA_SASL_MECHANISM={mechanism!r} is not one of {', '.join(MECHANISMS)}")
    return mechanism


def _token_file(settings: Settings) -> str:
    """The bearer token's file, required with OAUTHBEARER (read at each authentication, not here)."""
    if not settings.kafka_oauth_token_file:
        raise ValueError("KAFKA_SASL_MECHANISM=OAUTHBEARER needs KAFKA_OAUTH_TOKEN_FILE")
    return settings.kafka_oauth_token_file


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
