"""A dead letter is replayed only to an intake topic of this namespace; any other origin is refused."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from typer.testing import CliRunner

from services.cli import dlq
from services.cli.app import cli
from services.cli.deadletters import DeadLetter, Plan, plan, refusal, replay
from shared.contracts.topics import INTAKES, Topic
from shared.settings import Settings
from tests.hostile import shows

NS = Settings(namespace="ns", kafka_bootstrap_servers="127.0.0.1:1")  # no broker: any connection fails
INTERNAL = [topic for topic in Topic if topic not in INTAKES]


def letter(origin: str, position: str = "0:1", error_class: str = "AutoReconnect") -> DeadLetter:
    return DeadLetter(
        position, origin, "0:0", error_class, "db down", b"key", b"{}", {"origin-topic": origin}
    )


@pytest.mark.parametrize("settings", [NS, Settings()], ids=["namespace", "no namespace"])
@pytest.mark.parametrize("intake", INTAKES)
def test_a_letter_from_an_intake_of_this_namespace_is_replayed(settings: Settings, intake: Topic) -> None:
    assert refusal(settings, settings.topic(intake)) is None


@pytest.mark.parametrize("settings", [NS, Settings()], ids=["namespace", "no namespace"])
@pytest.mark.parametrize("internal", INTERNAL)
def test_a_letter_naming_an_internal_topic_is_refused(settings: Settings, internal: Topic) -> None:
    assert refusal(settings, settings.topic(internal)) == f"{internal} is not an intake topic"


@pytest.mark.parametrize(
    ("settings", "origin"),
    [
        (NS, "envol.application.intake.portal"),
        (NS, "ns-quiet.envol.application.intake.portal"),
        (NS, "other.envol.vetting.intake.screening"),
        (Settings(), "ns.envol.placement.intake.host"),
    ],
)
def test_a_letter_from_another_namespace_is_refused(settings: Settings, origin: str) -> None:
    assert "another namespace" in (refusal(settings, origin) or "")


@pytest.mark.parametrize(
    "origin",
    [
        "?",
        "",
        "\ufffd\ufffd",
        "ns.envol.application.intake.portal.evil",
        "ns.envol.application.intake.portal ",
        "ns.other",
    ],
)
def test_a_letter_from_a_topic_the_contracts_do_not_know_is_refused(origin: str) -> None:
    assert refusal(NS, origin) == "not a topic of the contracts"


def test_a_plan_keeps_the_allowed_letters_and_names_why_the_others_are_refused() -> None:
    good, forged = (
        letter("ns.envol.vetting.intake.screening", "0:1"),
        letter("ns.envol.application.events", "0:2"),
    )
    assert plan(NS, [forged, good]) == Plan(
        replayed=[good], refused=[(forged, "envol.application.events is not an intake topic")]
    )


async def test_replay_writes_nothing_when_every_letter_is_refused() -> None:
    forged = letter("ns.envol.dead-letter")
    done = await replay(NS, [forged])  # would fail to connect if it tried to write
    assert done.replayed == [] and done.refused == [(forged, "envol.dead-letter is not an intake topic")]


@pytest.fixture
def letters(monkeypatch: pytest.MonkeyPatch) -> list[Sequence[DeadLetter]]:
    """Two letters in the dead-letter topic, one forged; records what the command asks `replay` to send."""
    found = [letter("ns.envol.vetting.intake.screening", "0:1"), letter("ns.envol.placement.events", "0:2")]
    asked: list[Sequence[DeadLetter]] = []

    async def dead_letters(_: Settings) -> list[DeadLetter]:
        return found

    async def replay(settings: Settings, chosen: Sequence[DeadLetter]) -> Plan:
        asked.append(chosen)
        return plan(settings, chosen)

    monkeypatch.setattr(dlq, "dead_letters", dead_letters)
    monkeypatch.setattr(dlq, "replay", replay)
    monkeypatch.setenv("ENVOL_NAMESPACE", "ns")
    return asked


def test_a_dry_run_lists_what_would_be_replayed_and_refused_and_sends_nothing(
    letters: list[Sequence[DeadLetter]],
) -> None:
    result = CliRunner().invoke(cli, ["dlq", "replay", "--dry-run", "--error-class", "AutoReconnect"])
    assert result.exit_code == 1, result.output  # something was refused
    assert "would replay 1 messages (dry run: nothing written)" in result.output
    assert shows(result.output, "refused: envol.placement.events is not an intake topic")
    assert letters == []


def test_a_replay_reports_the_refused_letters_and_still_replays_the_rest(
    letters: list[Sequence[DeadLetter]],
) -> None:
    result = CliRunner().invoke(cli, ["dlq", "replay", "0:1", "0:2"])
    assert result.exit_code == 1, result.output
    assert "replayed 1 messages" in result.output
    assert shows(result.output, "refused: envol.placement.events is not an intake topic")
    assert [[d.position for d in chosen] for chosen in letters] == [["0:1", "0:2"]]
