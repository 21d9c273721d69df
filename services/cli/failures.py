"""How a command ends when it cannot do its work: exit codes a script can tell apart, and one line saying why.

A setting that is wrong (a CA file missing, a passwords file unreadable, an unknown protocol) is no server
out of reach: the first is fixed in the environment, the second by waiting or starting the server. Any
other error is a bug, and keeps its traceback.
"""

from __future__ import annotations

import ssl
from enum import IntEnum
from pathlib import Path

import msgspec
from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    UnsupportedSaslMechanismError,
)
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

from shared.settings import Settings, without_password


class ExitCode(IntEnum):
    """What `envol` exits with."""

    OK = 0
    FAILED = 1  # the answer is no: nothing found, a check broken, a dead letter refused
    USAGE = 2  # a command, option or argument that does not exist or is missing (Typer's own)
    CONFIGURATION = 3  # a setting is wrong, a file it names cannot be read, or the credentials are refused
    UNREACHABLE = 4  # Kafka or MongoDB out of reach (or answering with an error)


EXIT_CODES = (
    f"Exit codes: {ExitCode.OK} done; {ExitCode.FAILED} nothing found or a check failed; "
    f"{ExitCode.USAGE} usage; {ExitCode.CONFIGURATION} a setting is wrong (a file it names is missing or "
    f"unreadable, credentials refused); {ExitCode.UNREACHABLE} Kafka or MongoDB out of reach."
)

# Errors of the servers that are answers about the settings: the credentials or the mechanism
REFUSED_CREDENTIALS = (
    AuthenticationFailedError, AuthenticationMethodNotSupported, SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)  # fmt: skip
# Errors of the broker that say the principal is not granted what the command does (docs/grants.md)
NOT_GRANTED = (
    TopicAuthorizationFailedError, GroupAuthorizationFailedError, ClusterAuthorizationFailedError,
)  # fmt: skip
MONGODB_AUTHENTICATION_FAILED = 18
UNREACHABLE = (KafkaError, PyMongoError, ConnectionError, TimeoutError)
TLS_FILES = {
    "KAFKA_SSL_CAFILE": "kafka_ssl_cafile",
    "KAFKA_SSL_CERTFILE": "kafka_ssl_certfile",
    "KAFKA_SSL_KEYFILE": "kafka_ssl_keyfile",
}


class Ending(msgspec.Struct, frozen=True):
    """How a command that failed ends: its exit code and the one line printed on stderr."""

    code: ExitCode
    line: str


def ending(error: Exception, settings: Settings | None) -> Ending | None:
    """Say how a command that raised `error` ends (`settings` as read, None if they cannot be); None for a
    bug, whose traceback is kept."""
    problem = configuration_problem(error, settings)
    if problem is not None:
        return Ending(ExitCode.CONFIGURATION, f"configuration error: {problem}")
    if isinstance(error, UNREACHABLE):
        where = (
            f" (Kafka {settings.kafka_bootstrap_servers}, MongoDB {without_password(settings.mongodb_url)})"
            if settings
            else ""
        )
        return Ending(ExitCode.UNREACHABLE, f"{type(error).__name__}: {first_line(error)}{where}")
    return None


def configuration_problem(error: Exception, settings: Settings | None) -> str | None:
    """What is wrong with the settings, if `error` comes from them; None if it does not."""
    if isinstance(error, OSError) and not isinstance(error, ConnectionError | TimeoutError):  # SSLError too
        found = tls_problem(settings) if settings else None
        if found or not isinstance(error, ssl.SSLError):
            return found  # another OSError (a folder `envol docs` cannot write) is no setting's
        return f"the TLS settings ({', '.join(TLS_FILES)}) fail: {first_line(error)}"
    if isinstance(error, REFUSED_CREDENTIALS) or (
        isinstance(error, OperationFailure) and error.code == MONGODB_AUTHENTICATION_FAILED
    ):
        return (
            f"credentials refused ({type(error).__name__}: {first_line(error)}); check KAFKA_USERNAME, "
            "MONGODB_USERNAME and their passwords"
        )
    if isinstance(error, NOT_GRANTED):
        who = settings.kafka_username if settings else "this principal"
        return (
            f"the broker refused {who} ({type(error).__name__}): not granted; docs/grants.md says which "
            "principal may (KAFKA_USERNAME)"
        )
    if isinstance(error, ConfigurationError | ValueError):  # the settings' checks name their variable
        return first_line(error) or type(error).__name__
    return None


def tls_problem(settings: Settings) -> str | None:
    """Which TLS file setting is wrong, and how: missing, unreadable, or holding no certificate or key that
    ssl loads; None when the protocol uses no TLS or the files load (the error was not theirs)."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    files = {variable: getattr(settings, field) for variable, field in TLS_FILES.items()}
    for variable, path in files.items():
        if path:
            try:
                with Path(path).open("rb"):
                    pass
            except OSError as error:
                return f"{variable}={path} cannot be read ({error.strerror or type(error).__name__})"
    if files["KAFKA_SSL_CAFILE"]:
        try:
            ssl.create_default_context(cafile=files["KAFKA_SSL_CAFILE"])
        except ssl.SSLError as error:
            return (
                f"KAFKA_SSL_CAFILE={files['KAFKA_SSL_CAFILE']} holds no CA certificate ssl can load "
                f"({error.reason or first_line(error)})"
            )
    certfile, keyfile = files["KAFKA_SSL_CERTFILE"], files["KAFKA_SSL_KEYFILE"]
    if certfile and keyfile:
        try:  # an empty password: a key that needs one fails here rather than prompting on the terminal
            ssl.create_default_context().load_cert_chain(certfile, keyfile, password=lambda: b"")
        except ssl.SSLError as error:
            return (
                f"KAFKA_SSL_CERTFILE={certfile} and KAFKA_SSL_KEYFILE={keyfile} are no certificate and key "
                f"ssl can load ({error.reason or first_line(error)})"
            )
    return None


def first_line(error: Exception) -> str:
    """An error's message, its first line only."""
    return str(error).splitlines()[0] if str(error) else ""


def settings_or_none() -> Settings | None:
    """The settings of the environment, or None when they cannot be read (that is the error to report)."""
    try:
        return Settings.from_env()
    except ValueError:
        return None
