"""The demo and the load never expire: whatever the day they run, each volunteer gets the outcome the demo
expects from the rules (no birth date or start date fixed in the calendar)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.application.domain import problems
from services.simulator.demo import cast
from services.vetting.rules import Candidate, ineligibility
from shared import samples


@pytest.mark.parametrize(
    "today", [dt.date(2026, 12, 2), dt.date(2028, 3, 1), dt.date(2031, 2, 28), dt.date(2040, 12, 31)]
)
def test_every_demo_volunteer_gets_the_expected_vetting_outcome_on_any_day(today: dt.date) -> None:
    submitted_at = dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC)
    for persona in cast("demo", today, submitted_at):
        application = persona.application
        assert problems(application) == [], application.application_id
        refused = ineligibility(Candidate.of(application.volunteer, application.wishes))
        assert bool(refused) == (persona.expected_stage == "x vetting refused"), (today, refused)
        checks_until = min(report.valid_until for report in samples.all_screenings(application))
        assert checks_until >= application.wishes.available_until  # valid for any mission offered


def test_the_load_volunteers_are_eligible_whenever_it_runs() -> None:
    application = samples.submitted_now("load-1", "load-v1")
    assert ineligibility(Candidate.of(application.volunteer, application.wishes)) == []
    assert problems(application) == []
