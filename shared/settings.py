"""Configuration from the environment, in one place."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

# shown masked by repr, so a logged or printed Settings leaks none
SECRETS = frozenset({"kafka_password", "mongodb_password", "pseudonym_key"})
MODES = ("local", "production")
LOCAL_PSEUDONYM_KEY = "envol-local-pseudonym-key"
# keys anyone can read in this repository (the code's local default, docker-compose.yml's former one)
PUBLISHED_PSEUDONYM_KEYS = frozenset({LOCAL_PSEUDONYM_KEY, "change-me-outside-local-runs"})


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting a service or tool reads; each from an environment variable with a local default."""

    mode: str = "production"  # or local: only then are the local defaults of secrets accepted (check_secrets)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"  # SSL, SASL_PLAINTEXT or SASL_SSL on a managed cluster
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"  # or SCRAM-SHA-256, PLAIN
    kafka_username: str = ""
    kafka_password: str = ""
    kafka_oauth_token_file: str = ""  # OAUTHBEARER: a file holding the bearer token, kept fresh by its issuer
    kafka_passwords_file: str = (
        ""  # local stack only: `<name> <password>` lines, read when no password is set
    )
    kafka_ssl_cafile: str = ""  # empty: the system's trusted CAs
    kafka_ssl_certfile: str = ""  # a client certificate, for brokers that authenticate clients by TLS
    kafka_ssl_keyfile: str = ""
    mongodb_url: str = "mongodb://127.0.0.1:27017/"  # may carry the user (mongodb://user:password@host/)
    mongodb_username: str = ""  # else a user given apart from the URL, authenticated against `admin`
    mongodb_password: str = ""
    mongodb_passwords_file: str = ""  # local stack only: like kafka_passwords_file, for the database's users
    database_prefix: str = "envol"
    namespace: str = ""  # prefixes topics and consumer groups, so several stacks can share one broker
    pseudonym_key: str = LOCAL_PSEUDONYM_KEY  # placement's HMAC key for the partners' volunteer_ref
    pseudonym_key_version: int = 1  # raised with each new key: partners learn which key made a reference
    shared_partner_topic: bool = True  # placement also writes the shared partner topic (false: retired)
    retry_attempts: int = 10
    retry_base_seconds: float = 0.2
    log_level: str = "INFO"
    batch_size: int = 200  # messages consumed at once; different keys are handled concurrently
    concurrency: int = 8  # keys handled at the same time within a batch
    topic_partitions: int = 3
    topic_replication: int = 1  # 3 on a cluster, with min.insync.replicas 2
    instance: str = ""  # this replica's stable name: a restart rejoins its consumer group at once (static)
    http_host: str = "127.0.0.1"  # where /health, /ready and /metrics listen (0.0.0.0 in a container)
    http_port: int = 8080
    log_format: str = "text"  # or json: one JSON object per line, for a log collector
    metrics: bool = True  # false: no metric is recorded (the benchmark measures what they cost)
    otlp_endpoint: str = ""  # an OTLP/HTTP collector (http://host:4318) turns tracing on; off when empty
    console_passwords_file: str = ""  # the console's operators: `<name> <password>` lines (required by it)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read settings from KAFKA_*, MONGODB_URL and ENVOL_* variables."""
        names = {
            "mode": "ENVOL_MODE",
            "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
            "kafka_security_protocol": "KAFKA_SECURITY_PROTOCOL",
            "kafka_sasl_mechanism": "KAFKA_SASL_MECHANISM",
            "kafka_username": "KAFKA_USERNAME",
            "kafka_password": "KAFKA_PASSWORD",
            "kafka_passwords_file": "ENVOL_KAFKA_PASSWORDS",
            "kafka_oauth_token_file": "KAFKA_OAUTH_TOKEN_FILE",
            "kafka_ssl_cafile": "KAFKA_SSL_CAFILE",
            "kafka_ssl_certfile": "KAFKA_SSL_CERTFILE",
            "kafka_ssl_keyfile": "KAFKA_SSL_KEYFILE",
            "mongodb_url": "MONGODB_URL",
            "mongodb_username": "MONGODB_USERNAME",
            "mongodb_password": "MONGODB_PASSWORD",
            "mongodb_passwords_file": "ENVOL_MONGODB_PASSWORDS",
            "database_prefix": "ENVOL_DATABASE_PREFIX",
            "namespace": "ENVOL_NAMESPACE",
            "pseudonym_key": "ENVOL_PSEUDONYM_KEY",
            "pseudonym_key_version": "ENVOL_PSEUDONYM_KEY_VERSION",
            "shared_partner_topic": "ENVOL_SHARED_PARTNER_TOPIC",
            "retry_attempts": "ENVOL_RETRY_ATTEMPTS",
            "retry_base_seconds": "ENVOL_RETRY_BASE_SECONDS",
            "log_level": "ENVOL_LOG_LEVEL",
            "batch_size": "ENVOL_BATCH_SIZE",
            "concurrency": "ENVOL_CONCURRENCY",
            "topic_partitions": "ENVOL_TOPIC_PARTITIONS",
            "topic_replication": "ENVOL_TOPIC_REPLICATION",
            "instance": "ENVOL_INSTANCE",
            "http_host": "ENVOL_HTTP_HOST",
            "http_port": "ENVOL_HTTP_PORT",
            "log_format": "ENVOL_LOG_FORMAT",
            "metrics": "ENVOL_METRICS",
            "otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
            "console_passwords_file": "ENVOL_CONSOLE_PASSWORDS",
        }
        raw = {field: environ[var] for field, var in names.items() if environ.get(var)}
        return msgspec.convert(raw, cls, strict=False)

    def __repr__(self) -> str:
        """Every field, secrets masked: settings in a log line or a test's traceback give no password away."""
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in self._shown())})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """What rich prints (it would otherwise list every field as it is, secrets included)."""
        return list(self._shown())

    def _shown(self) -> Iterator[tuple[str, Any]]:
        """Each field with its value, a secret that is set masked, and so is a password in a URL."""
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if name in SECRETS and value:
                value = "***"
            elif isinstance(value, str):
                value = without_password(value)
            yield name, value

    def topic(self, topic: str) -> str:
        """Return the broker-side name of a topic in this namespace."""
        return f"{self.namespace}.{topic}" if self.namespace else str(topic)

    def contract_topic(self, name: str) -> str:
        """Return the contract's topic name of a broker-side topic name."""
        return name.removeprefix(f"{self.namespace}.") if self.namespace else name

    def group(self, service: str) -> str:
        """Return the consumer group of a service in this namespace."""
        return self.topic(f"envol-{service}")

    def replica(self) -> str:
        """This replica's name in metrics, traces and logs: its instance, else its host's name (a
        container's id under compose, where replicas of a service share one environment)."""
        return self.instance or socket.gethostname()

    def database(self, service: str) -> str:
        """Return the name of a service's own database."""
        return f"{self.database_prefix}_{service}"


class UnsafeSettingsError(ValueError):
    """A secret a process needs is unfit outside a local run, or ENVOL_MODE is unknown."""


class SecretRule(msgspec.Struct, frozen=True):
    """What a secret must be outside local mode."""

    variable: str
    least: int  # characters
    required: bool  # else it may be unset (a Kafka without SASL takes no password)
    published: frozenset[str] = frozenset()  # values anyone can read in this repository


DEFAULTS = Settings()
SECRET_RULES = {
    "pseudonym_key": SecretRule("ENVOL_PSEUDONYM_KEY", 32, required=True, published=PUBLISHED_PSEUDONYM_KEYS),
    "kafka_password": SecretRule("KAFKA_PASSWORD", 16, required=False),
    "mongodb_password": SecretRule("MONGODB_PASSWORD", 16, required=False),
}


def read_passwords(path: str, variable: str) -> dict[str, str]:
    """A local stack's passwords file (named by `variable`): one `<principal> <password>` line each."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise ValueError(f"{variable} cannot be read ({type(error).__name__})") from None
    return dict(line.split(" ", 1) for line in lines if " " in line)


def password_in_file(path: str, variable: str, username: str) -> str:
    """The password of `username` in the passwords file `path` ("" when either is unset)."""
    if not path or not username:
        return ""
    found = read_passwords(path, variable)
    if username not in found:
        raise ValueError(f"{variable} has no password for {username}")
    return found[username]


def without_password(url: str) -> str:
    """`url` with the password of its user part masked (mongodb://envol:***@host/), for anything printed."""
    return re.sub(r"(//[^:/@\s]*):[^@/\s]*@", r"\1:***@", url)


def check_secrets(settings: Settings, *needed: str) -> None:
    """Refuse the secrets a process needs (field names of SECRET_RULES) when they are unfit, unless ENVOL_MODE
    is local: a pseudonym key that is unset, empty (from_env reads an empty variable as unset, so the
    default), published with Envol or shorter than 32 characters; a Kafka password that is set but shorter
    than 16. The error names every unfit variable and what it needs, never a value."""
    if settings.mode not in MODES:
        raise UnsafeSettingsError(f"ENVOL_MODE={settings.mode!r} is not one of {', '.join(MODES)}")
    if settings.mode == "local":
        return
    problems = []
    for field in needed:
        rule, value = SECRET_RULES[field], getattr(settings, field)
        unset = not value or value == getattr(DEFAULTS, field)  # an empty variable reads as unset
        if unset and not rule.required:
            continue
        if unset:
            problem = "is unset, empty or the local default"
        elif value in rule.published:
            problem = "is a key published with Envol"
        elif len(value) < rule.least:
            problem = f"is {'' if rule.required else 'set but '}shorter than {rule.least} characters"
        else:
            continue
        problems.append(
            f"{rule.variable} {problem}: it needs a secret of its own of at least {rule.least} characters"
        )
    if problems:
        raise UnsafeSettingsError(
            f"{'; '.join(problems)} (`openssl rand -hex 32` makes one). ENVOL_MODE is production; "
            "ENVOL_MODE=local accepts the local defaults, for a run on this machine only"
        )
