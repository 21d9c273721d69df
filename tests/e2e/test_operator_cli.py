"""Operators see a volunteer's timeline and the stage counts, read from the real topics."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from typer.testing import CliRunner

from services.cli.app import cli
from services.simulator.processes import service_environment
from shared import samples
from shared.contracts import vetting as vet
from shared.settings import Settings
from tests.e2e.test_lifecycle import send
from tests.observer import Observer


async def test_timeline_and_status_show_where_volunteers_stand(
    settings: Settings, observer: Observer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = settings.namespace
    refused = samples.submitted(
        f"{run}-cli-x", volunteer_fields={"volunteer_id": f"{run}-vol-x", "birth_date": dt.date(1980, 1, 1)}
    )
    await send(settings, refused, *samples.all_screenings(refused))
    await observer.wait_for(vet.VettingRefused, application_id=refused.application_id)
    for name, value in service_environment(settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    timeline = await asyncio.to_thread(
        runner.invoke, cli, ["timeline", f"{run}-vol-x"], env={"COLUMNS": "200"}
    )
    assert timeline.exit_code == 0, timeline.output
    for event_type in ("ApplicationSubmitted", "ApplicationReceived", "VettingRefused"):
        assert event_type in timeline.output
    assert "Durand" not in timeline.output  # no personal data on the operator's screen

    status = await asyncio.to_thread(runner.invoke, cli, ["status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output
    assert "vetting refused" in status.output

    unknown = await asyncio.to_thread(runner.invoke, cli, ["timeline", f"{run}-nobody"])
    assert unknown.exit_code == 1
