"""docker-compose.yml as compose loads it, without a Docker engine: the checker deploy/compose/tools.sh builds
(compose-go) and the secrets deploy/compose/secrets.sh draws. Shared by the unit and integration tests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.servers import ROOT

COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_TOOLS = ROOT / "deploy" / "compose"


def build_checker() -> str:
    """The compose checker's path, built once and cached by deploy/compose/tools.sh."""
    done = subprocess.run(
        ["bash", str(COMPOSE_TOOLS / "tools.sh"), "fetch"], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"deploy/compose/tools.sh fetch failed:\n{done.stderr[-3000:]}"
    return done.stdout.strip().split("=", 1)[1]


def draw_secrets(folder: Path) -> Path:
    """Draw (or complete) compose's secrets into `folder`, its .env beside it, as a user does."""
    script = COMPOSE_TOOLS / "secrets.sh"
    done = subprocess.run(["bash", str(script), str(folder)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return folder


def load(checker: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    """Load docker-compose.yml with `env_file`, none of this process's Envol settings leaking in."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ENVOL_", "KAFKA_", "MONGODB_"))}
    return subprocess.run(
        [checker, "-env-file", str(env_file), str(COMPOSE)], capture_output=True, text=True, env=environment
    )


def project(checker: str, secrets: Path) -> dict[str, Any]:
    """The resolved project (`docker compose config --format json`) with the secrets in `secrets`."""
    done = load(checker, secrets.parent / ".env")
    assert done.returncode == 0, f"docker-compose.yml does not load: {done.stderr}"
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def passwords(path: Path) -> dict[str, str]:
    """A passwords file's `<name> <password>` lines."""
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())
