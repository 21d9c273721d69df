"""The bench's verdict on each target, from the runs' figures."""

from __future__ import annotations

from services.simulator.bench import CONSUMED, DATABASE, Run, targets

SERVICES = list(CONSUMED)


def runs(
    *, cpu: float = 200, system: int = 700, p99: tuple[float, float] = (0.1, 0.06), commands: int = 4000
) -> list[Run]:
    per_service = dict.fromkeys(SERVICES, cpu)
    return [
        Run("system", 1.0, system, 10, per_service, database_commands=1000),
        Run("baseline", 1.0, 1000),
        Run("system", 1.0, 100, 10, per_service, offered=5.0, hop_seconds={"p99": p99[0]}),
        Run("baseline", 1.0, 100, offered=25.0, hop_seconds={"p99": p99[1]}),
        Run("scaling", 1.0, 1000, 10, per_service, replicas=1, database_commands=1000),
        Run("scaling", 1.0, 1000, 10, per_service, replicas=4, database_commands=commands),
    ]


def verdicts(found: list[tuple[str, str, bool | None]]) -> list[bool | None]:
    return [met for _, _, met in found]


def test_each_target_is_met_at_its_bound_and_missed_beyond_it() -> None:
    assert verdicts(targets(runs(cpu=300, system=700, p99=(0.1, 0.05), commands=1200))) == [True] * 4
    assert verdicts(targets(runs(cpu=301, system=699, p99=(0.1, 0.049), commands=1201))) == [False] * 4


def test_the_slowest_service_decides_the_cpu_target_and_the_figures_are_shown() -> None:
    found = runs(cpu=100)
    found[0].cpu_us_per_message[SERVICES[-1]] = 2450
    asked, measured, met = targets(found)[0]
    assert met is False and f"{SERVICES[-1]} 2,450" in measured and "300 µs" in asked


def test_a_part_the_run_skipped_is_not_measured_rather_than_met() -> None:
    skipped = [r for r in runs() if r.offered is None and r.kind != "scaling"]
    assert verdicts(targets(skipped)) == [True, True, None, None]


def test_the_database_servers_cpu_counts_in_no_services_target() -> None:
    found = runs(cpu=300, commands=1200)
    for run in found:
        if run.cpu_us_per_message:
            run.cpu_us_per_message[DATABASE] = 5000 * run.replicas  # the server's, 4 times more at 4 replicas
    assert verdicts(targets(found)) == [True] * 4
