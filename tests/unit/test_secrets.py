"""No default secrets outside local runs: production refuses a published, empty or short secret, naming its
variable and never its value; local mode accepts the defaults; only placement needs the pseudonym key."""

from __future__ import annotations

from services.simulator.processes import service_environment
from shared.settings import Settings

PRODUCTION = Settings(mode="production")


def test_the_mode_is_production_unless_set() -> None:
    assert Settings().mode == "production"
    assert Settings.from_env({}).mode == "production"
    assert Settings.from_env({"ENVOL_MODE": ""}).mode == "production"
    assert Settings.from_env({"ENVOL_MODE": "local"}).mode == "local"


def test_the_processes_the_simulator_starts_run_in_local_mode() -> None:
    assert service_environment(PRODUCTION)["ENVOL_MODE"] == "local"
