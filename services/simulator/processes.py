"""The four services as separate OS processes, as in production: start, wait until ready, kill, restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from services.grants import AUDITOR, OPERATOR
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("application", "vetting", "placement", "departure")


def free_port() -> int:
    """A TCP port free on this machine now, for a service's HTTP routes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def is_ready(address: str) -> bool:
    """Whether the service at `address` answers its readiness route with 200."""
    try:
        with urllib.request.urlopen(f"{address}/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:  # not listening yet, or 503 (an HTTPError): not ready
        return False


def service_environment(settings: Settings) -> dict[str, str]:
    """The environment a service process reads its settings from. Local mode always: these processes are
    the demo's, the tests' and the benchmark's, started on this machine with the local default key (a
    deployment starts its services with an environment of its own, where ENVOL_MODE is production)."""
    return os.environ | {
        "ENVOL_MODE": "local",
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
        "KAFKA_SASL_MECHANISM": settings.kafka_sasl_mechanism,
        "KAFKA_USERNAME": settings.kafka_username,
        "KAFKA_PASSWORD": settings.kafka_password,
        "ENVOL_KAFKA_PASSWORDS": settings.kafka_passwords_file,
        "KAFKA_SSL_CAFILE": settings.kafka_ssl_cafile,
        "KAFKA_SSL_CERTFILE": settings.kafka_ssl_certfile,
        "KAFKA_SSL_KEYFILE": settings.kafka_ssl_keyfile,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_USERNAME": settings.mongodb_username,
        "MONGODB_PASSWORD": settings.mongodb_password,
        "ENVOL_MONGODB_PASSWORDS": settings.mongodb_passwords_file,
        "ENVOL_NAMESPACE": settings.namespace,
        "ENVOL_DATABASE_PREFIX": settings.database_prefix,
        "ENVOL_RETRY_BASE_SECONDS": str(settings.retry_base_seconds),
        "ENVOL_PSEUDONYM_KEY": settings.pseudonym_key,
        "ENVOL_METRICS": str(settings.metrics).lower(),
        "OTEL_EXPORTER_OTLP_ENDPOINT": settings.otlp_endpoint,
        "ENVOL_CONSOLE_PASSWORDS": settings.console_passwords_file,
    }


class ServiceProcesses:
    """Runs services with `python -m services.<name>`, each logging to its own file; `console` is the
    operators' web console, as the operator principal."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.environment = service_environment(settings)
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}  # each process's HTTP port, kept across restarts

    def address(self, name: str) -> str:
        """Where a service process serves /health, /ready and /metrics."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def environment_of(self, name: str) -> dict[str, str]:
        """A service's environment: its replica's name, its principal and database user, and the pseudonym
        key only if it is placement's."""
        service, _, replica = name.partition("#")
        port = self.ports.setdefault(name, free_port())
        environment = self.environment | {"ENVOL_INSTANCE": replica or "1", "ENVOL_HTTP_PORT": str(port)}
        principal, user = (OPERATOR, AUDITOR) if service == "console" else (service, service)
        if environment["ENVOL_KAFKA_PASSWORDS"]:  # the local stack: each service is its own principal
            environment |= {"KAFKA_USERNAME": principal, "KAFKA_PASSWORD": ""}
        if environment["ENVOL_MONGODB_PASSWORDS"]:  # and its own database user
            environment |= {"MONGODB_USERNAME": user, "MONGODB_PASSWORD": ""}
        if service != "placement":
            del environment["ENVOL_PSEUDONYM_KEY"]
        if service != "console":  # its operators' passwords, for it alone
            del environment["ENVOL_CONSOLE_PASSWORDS"]
        return environment

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name.replace('#', '-')}.log"

    def start(self, *names: str, timeout: float = 60.0) -> None:
        """Start services (a name may carry a replica suffix: `placement#2`) and wait until each is ready."""
        for name in names or SERVICES:
            with self.log(name).open("ab") as log:
                self.processes[name] = subprocess.Popen(
                    [sys.executable, "-m", f"services.{name.split('#')[0]}"], cwd=ROOT,
                    env=self.environment_of(name),
                    stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
        for name in names or SERVICES:
            self._wait_ready(name, timeout)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Start a service again after it stopped or was killed."""
        self.start(name, timeout=timeout)

    def _wait_ready(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not is_ready(self.address(name)):
            if self.processes[name].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"service {name} did not start:\n{self.tail(name)}")
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        """Kill a service at once (SIGKILL), as a crash would."""
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def stop(self) -> None:
        """Stop every service gracefully (SIGTERM), killing any that lingers."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def tail(self, name: str, lines: int = 40) -> str:
        return "\n".join(self.log(name).read_text(errors="replace").splitlines()[-lines:])
