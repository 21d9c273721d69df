"""The integrators' guide runs as written: its example facts, sent by kcat with the guide's own command (read
from docs/integrators.md; only the broker's address, the CA, the principal, its password, the topic's
namespace, the key and the file change), are applied by the services on the real servers: an application
received, then cleared once the screening reports are in. kcat is Debian's (1.7.1), run on a current
librdkafka, the one confluent-kafka's wheel carries, as the guide says (its own librdkafka 2.0.2 fails SCRAM
against this broker)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from services.simulator.processes import ROOT, ServiceProcesses
from shared.contracts import application as app
from shared.contracts import vetting as vet
from shared.settings import Settings, password_in_file
from tests.observer import Observer

pytestmark = pytest.mark.timeout(120)
EXAMPLES = ROOT / "docs" / "examples"
GUIDE = ROOT / "docs" / "integrators.md"
GUIDE_KEY = json.loads(
    (EXAMPLES / "envol.application.intake.portal" / "01-ApplicationSubmitted.json").read_text()
)["subject_id"]  # the example the guide's command sends


def guide_command() -> list[str]:
    """The guide's kcat command, as a reader copies it."""
    block = re.search(r"```bash\n(kcat -P .*?)```", GUIDE.read_text(), re.S)
    assert block, "docs/integrators.md has no kcat -P example"
    return shlex.split(block.group(1).replace("\\\n", " "))


def librdkafka_dir(tmp: Path) -> Path:
    """A directory holding the current librdkafka of the project's confluent-kafka wheel as librdkafka.so.1,
    for kcat's loader (the guide's recipe)."""
    import confluent_kafka

    [library] = (Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs").glob(
        "librdkafka-*.so.1"
    )
    (tmp / "librdkafka.so.1").symlink_to(library)
    return tmp


def kcat_send(settings: Settings, principal: str, path: Path, libraries: Path) -> None:
    """Send one example file as the guide does: one file, one message, keyed by its subject."""
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed (Debian: apt install kcat; CI installs it)"
    password = password_in_file(settings.kafka_passwords_file, "ENVOL_KAFKA_PASSWORDS", principal)
    ours = {
        "-b": settings.kafka_bootstrap_servers,
        "sasl.username": principal,
        "sasl.password": password,
        "ssl.ca.location": str(settings.kafka_ssl_cafile),
        "-t": settings.topic(path.parent.name),
        "-k": json.loads(path.read_text())["subject_id"],
    }
    command, words = [kcat], iter(guide_command()[1:])
    for word in words:
        if word in ("-b", "-t", "-k"):
            guides = next(words)
            assert word != "-k" or guides == GUIDE_KEY, (
                f"the guide's key {guides} is not its example's subject"
            )
            command += [word, ours[word]]
        elif word == "-X":
            name, value = next(words).split("=", 1)
            command += ["-X", f"{name}={ours.get(name, value)}"]
        else:  # -P, and the example file last
            command.append(str(path) if word.startswith("docs/examples/") else word)
    environment = os.environ | {"LD_LIBRARY_PATH": str(libraries)}
    version = subprocess.run(
        [kcat, "-V"], env=environment, capture_output=True, text=True, check=False
    ).stdout
    found = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", version)
    assert found and tuple(map(int, found.groups())) >= (2, 6, 1), (
        f"kcat runs on an old librdkafka: {version}"
    )
    try:
        done = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired as stuck:  # a refused sign-in: kcat waits for its message timeout
        raise AssertionError(f"{path.name} was not sent in 60 s: {stuck.stderr!r}") from None
    assert done.returncode == 0 and "ERROR" not in done.stderr, f"{path.name} was not sent: {done.stderr}"


async def test_the_guides_examples_sent_with_kcat_are_applied(
    settings: Settings, services: ServiceProcesses, observer: Observer, tmp_path: Path
) -> None:
    assert settings.kafka_security_protocol == "SASL_SSL", "the guide's commands are for the secured broker"
    application = EXAMPLES / "envol.application.intake.portal" / "01-ApplicationSubmitted.json"
    application_id = json.loads(application.read_text())["application_id"]
    libraries = librdkafka_dir(tmp_path)
    await asyncio.to_thread(kcat_send, settings, "portal", application, libraries)
    await observer.wait_for(app.ApplicationReceived, application_id=application_id)
    for report in sorted((EXAMPLES / "envol.vetting.intake.screening").glob("*.json")):
        await asyncio.to_thread(kcat_send, settings, "screening", report, libraries)
    await observer.wait_for(vet.VettingCleared, application_id=application_id)
