"""The vetting case, row by row: the transition table, every eligibility rule, screening in any order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from services.vetting import rules
from services.vetting.domain import Case, Report, Status, decide
from services.vetting.rules import Candidate, ineligibility
from shared import samples
from shared.contracts.application import (
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    TransitionRefused,
)
from shared.contracts.envelope import Event
from shared.contracts.reasons import ReasonCode as R
from shared.contracts.reasons import check_expires_early, check_failed, check_pending
from shared.contracts.types import Scheme
from shared.contracts.vetting import Check, MissionLimits, VettingCleared, VettingRefused
from shared.dates import age_at, months_between
from tests.examples import received

START = dt.date(2026, 9, 1)  # samples.wishes().available_from


def withdrawn(application: ApplicationSubmitted) -> ApplicationWithdrawn:
    """The application service's announcement of a withdrawal."""
    return ApplicationWithdrawn(
        subject_id=application.subject_id,
        producer="application",
        application_id=application.application_id,
        reason="personal reasons",
    )


def run(events: list[Any], state: Case | None = None) -> tuple[Case | None, list[Event]]:
    """Apply events in order; return the final case and every event emitted."""
    emitted: list[Event] = []
    for event in events:
        state, out = decide(state, event)
        emitted.extend(out)
    return state, emitted


def candidate(**overrides: Any) -> Candidate:
    """The sample volunteer (24, French) wishing 12 months of service civique in Peru, with overrides."""
    return msgspec.structs.replace(Candidate.of(samples.volunteer(), samples.wishes()), **overrides)


VSI = {"scheme": Scheme.VSI}
PERUVIAN_TO_FRANCE = {
    "scheme": Scheme.RECIPROCITY,
    "nationality": "PE",
    "residence_country": "PE",
    "mission_country": "FR",
}


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (dt.date(2026, 9, 1), dt.date(2027, 9, 1), 12),
        (dt.date(2026, 9, 1), dt.date(2027, 8, 31), 11),
        (dt.date(2026, 1, 31), dt.date(2026, 2, 28), 1),
        (dt.date(2026, 1, 31), dt.date(2026, 2, 27), 0),
        (dt.date(2026, 9, 1), dt.date(2026, 8, 1), 0),
    ],
)
def test_months_between_counts_whole_months_with_the_end_excluded(
    start: dt.date, end: dt.date, months: int
) -> None:
    assert months_between(start, end) == months


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (dt.date(2008, 9, 1), START, 18),
        (dt.date(2008, 9, 2), START, 17),
        (dt.date(2008, 2, 29), dt.date(2026, 2, 28), 17),
        (dt.date(2008, 2, 29), dt.date(2026, 3, 1), 18),
    ],
)
def test_age_at_counts_birthdays_reached_on_the_day(birth: dt.date, day: dt.date, age: int) -> None:
    assert age_at(birth, day) == age


RULE_CASES: list[tuple[rules.Rule, dict[str, Any], R | None]] = [
    (rules.vsi_age, VSI | {"birth_date": dt.date(1960, 1, 1)}, None),
    # the law sets no nationality condition: a Norwegian or a Peruvian living in France may go
    (rules.vsi_residence, VSI | {"nationality": "NO", "residence_country": "NO"}, None),
    (rules.vsi_residence, VSI | {"nationality": "PE", "residence_country": "FR"}, None),
    (
        rules.vsi_residence,
        VSI | {"nationality": "FR", "residence_country": "PE"},
        R.HOST_COUNTRY_RESIDENT,
    ),
    (rules.vsi_destination, VSI | {"mission_country": "DE"}, R.MISSION_IN_EEA),
    (rules.vsi_destination, VSI | {"mission_country": "NO"}, R.MISSION_IN_EEA),
    (rules.vsi_destination, VSI | {"mission_country": "CH"}, None),  # outside the EEA
    # the availability (2026-09-01 to 2027-08-31) holds a legal mission: checked against the opening later
    (rules.vsi_duration, VSI | {"available_until": dt.date(2028, 9, 1)}, None),
    (rules.vsi_duration, VSI | {"prior_vsi_months": 71}, None),
    (rules.vsi_duration, VSI | {"prior_vsi_months": 72}, R.VSI_TIME_USED_UP),
    # the age on the day the contract is signed: some start within the availability must do
    (rules.vsi_age, VSI | {"birth_date": dt.date(2009, 8, 1)}, None),  # 18 on the last possible start
    (
        rules.vsi_age,
        VSI | {"birth_date": dt.date(2009, 8, 2)},
        R.TOO_YOUNG,
    ),
    (rules.civic_age, {"birth_date": dt.date(2001, 9, 1)}, None),
    (rules.civic_age, {"birth_date": dt.date(2000, 9, 2)}, None),  # 25 on the first day only
    (
        rules.civic_age,
        {"birth_date": dt.date(2000, 9, 1)},
        R.TOO_OLD,
    ),
    (rules.civic_age, {"birth_date": dt.date(1995, 9, 2), "disability": True}, None),
    (
        rules.civic_age,
        {"birth_date": dt.date(1995, 9, 1), "disability": True},
        R.TOO_OLD,
    ),
    (rules.civic_age, {"birth_date": dt.date(2009, 3, 1)}, None),  # 18 on 2027-03-01, 6 months before the end
    (
        rules.civic_age,
        {"birth_date": dt.date(2009, 3, 2)},
        R.TOO_YOUNG,
    ),
    (rules.civic_age, {"birth_date": dt.date(2011, 3, 1), "mission_country": "FR"}, None),  # 16 at home
    (
        rules.civic_age,
        PERUVIAN_TO_FRANCE | {"birth_date": dt.date(2011, 3, 2)},
        R.TOO_YOUNG,
    ),
    (rules.civic_nationality, {"nationality": "NO"}, None),
    (rules.civic_nationality, {"nationality": "PE", "residence_permit_months": 13}, None),
    (rules.civic_nationality, {"nationality": "PE", "student": True}, None),
    (rules.civic_nationality, {"nationality": "PE", "refugee": True}, None),
    (
        rules.civic_nationality,
        {"nationality": "CO", "residence_permit_months": 12},
        R.NATIONALITY_NOT_ELIGIBLE,
    ),
    (rules.civic_duration, {"available_until": dt.date(2027, 2, 28)}, None),
    (
        rules.civic_duration,
        {"available_until": dt.date(2027, 2, 27)},
        R.AVAILABILITY_TOO_SHORT,
    ),
    (
        rules.civic_duration,
        {"available_until": dt.date(2028, 2, 29)},
        None,
    ),  # 18 months: a 9-month mission fits
    (rules.reciprocity_origin, PERUVIAN_TO_FRANCE, None),
    (rules.reciprocity_partner, PERUVIAN_TO_FRANCE, None),
    (
        rules.reciprocity_partner,
        PERUVIAN_TO_FRANCE | {"nationality": "CO", "residence_country": "CO"},
        R.NOT_A_PARTNER_COUNTRY,
    ),
    (
        rules.reciprocity_origin,
        PERUVIAN_TO_FRANCE | {"nationality": "IS"},
        R.FROM_EEA_OR_SWITZERLAND,
    ),
    (
        rules.reciprocity_origin,
        PERUVIAN_TO_FRANCE | {"nationality": "CH"},
        R.FROM_EEA_OR_SWITZERLAND,
    ),
    (
        rules.reciprocity_destination,
        PERUVIAN_TO_FRANCE | {"mission_country": "PE"},
        R.MISSION_NOT_IN_FRANCE,
    ),
    (
        rules.own_country,
        {"nationality": "PE", "residence_permit_months": 24},
        R.HOST_COUNTRY_NATIONAL,
    ),
    (rules.own_country, PERUVIAN_TO_FRANCE, None),
    (rules.own_country, {"nationality": "FR", "mission_country": "FR"}, None),  # a home mission
]


@pytest.mark.parametrize(("rule", "overrides", "reason"), RULE_CASES)
def test_each_rule_holds_or_names_itself_in_its_reason(
    rule: rules.Rule, overrides: dict[str, Any], reason: R | None
) -> None:
    assert rule(candidate(**overrides)) == reason


@pytest.mark.parametrize(
    "overrides", [{}, VSI, PERUVIAN_TO_FRANCE], ids=["service-civique", "vsi", "reciprocity"]
)
def test_the_sample_volunteer_is_eligible_for_each_scheme(overrides: dict[str, Any]) -> None:
    assert ineligibility(candidate(**overrides)) == []


def test_ineligibility_lists_every_broken_rule_of_the_scheme_only() -> None:
    old_peruvian_in_peru = candidate(nationality="PE", birth_date=dt.date(1990, 1, 1))
    assert ineligibility(old_peruvian_in_peru) == [
        R.TOO_OLD,
        R.NATIONALITY_NOT_ELIGIBLE,
        R.HOST_COUNTRY_NATIONAL,
    ]
    assert ineligibility(candidate(birth_date=dt.date(1990, 1, 1), **VSI)) == []


def test_an_eligible_application_waits_for_its_checks_keeping_no_name_or_contact() -> None:
    application = samples.submitted()
    state, events = decide(None, received(application))
    assert events == []
    assert state == Case(status=Status.SCREENING, candidate=candidate())
    assert not {"given_name", "family_name", "email", "phone"} & set(msgspec.to_builtins(state)["candidate"])


def test_an_ineligible_application_is_refused_at_once_with_every_reason() -> None:
    application = samples.submitted(volunteer_fields={"nationality": "PE", "birth_date": dt.date(1990, 1, 1)})
    fact = received(application)
    state, events = decide(None, fact)
    assert state == Case(status=Status.REFUSED)
    assert isinstance(events[0], VettingRefused) and len(events[0].reasons) == 3
    assert events[0].subject_id == "vol-1" and events[0].causation_id == fact.event_id


def test_the_last_passed_check_clears_the_case_with_the_volunteer_as_key() -> None:
    application = samples.submitted()
    state, events = run([received(application), *samples.all_screenings(application)])
    assert state == Case(status=Status.CLEARED)
    assert [type(e) for e in events] == [VettingCleared]
    assert events[0].subject_id == "vol-1" and events[0].application_id == "app-1"  # type: ignore[attr-defined]


def test_checks_reported_before_the_application_are_kept_until_it_arrives() -> None:
    application = samples.submitted()
    waiting, events = run(samples.all_screenings(application))
    assert waiting is not None and waiting.status is Status.AWAITING_APPLICATION
    assert waiting.candidate is None and len(waiting.reports) == 4 and events == []
    state, events = decide(waiting, received(application))
    assert state == Case(status=Status.CLEARED) and [type(e) for e in events] == [VettingCleared]


@pytest.mark.parametrize("application_first", [True, False], ids=["application-first", "check-first"])
def test_a_failed_check_refuses_the_case_whenever_it_arrives(application_first: bool) -> None:
    application = samples.submitted()
    failed = samples.screening(application, Check.MEDICAL, passed=False)
    facts = [received(application), failed] if application_first else [failed, received(application)]
    state, events = run(facts)
    assert state == Case(status=Status.REFUSED)
    assert isinstance(events[0], VettingRefused) and events[0].reasons == (check_failed(Check.MEDICAL),)


@pytest.mark.parametrize("application_first", [True, False], ids=["application-first", "check-first"])
def test_a_check_expiring_before_the_start_refuses_the_case(application_first: bool) -> None:
    application = samples.submitted()
    expired = samples.screening(application, Check.BACKGROUND, valid_until=dt.date(2026, 8, 31))
    facts = [received(application), expired] if application_first else [expired, received(application)]
    state, events = run(facts)
    assert state == Case(status=Status.REFUSED)
    assert isinstance(events[-1], VettingRefused)
    assert events[-1].reasons == (check_expires_early(Check.BACKGROUND),)


def test_a_check_valid_on_the_start_day_is_not_expired() -> None:
    application = samples.submitted()
    reports = [samples.screening(application, check, valid_until=START) for check in Check]
    state, _ = run([received(application), *reports])
    assert state == Case(status=Status.CLEARED)


def test_a_newer_report_of_a_check_replaces_the_older_one_while_undecided() -> None:
    application = samples.submitted()
    stale = samples.screening(application, Check.INTERVIEW, valid_until=dt.date(2026, 6, 1))
    renewed = samples.screening(application, Check.INTERVIEW)
    state, _ = run([stale, renewed])
    assert state is not None
    assert state.reports == (Report(check=Check.INTERVIEW, passed=True, valid_until=dt.date(2027, 8, 31)),)
    others = [samples.screening(application, check) for check in Check if check is not Check.INTERVIEW]
    state, events = run([received(application), *others], state)
    assert [type(e) for e in events] == [VettingCleared]


def test_the_deadline_refuses_a_case_naming_its_pending_checks_in_check_order() -> None:
    application = samples.submitted()
    reported = [samples.screening(application, c) for c in (Check.INTERVIEW, Check.BACKGROUND)]
    state, events = run([received(application), *reported, samples.screening_deadline(application)])
    assert state == Case(status=Status.REFUSED)
    assert isinstance(events[0], VettingRefused)
    assert events[0].reasons == (check_pending(Check.MEDICAL), check_pending(Check.REFERENCES))


def test_the_deadline_changes_nothing_when_every_check_came_before_the_application() -> None:
    application = samples.submitted()
    waiting, _ = run(samples.all_screenings(application))
    state, events = decide(waiting, samples.screening_deadline(application))
    assert state == waiting and events == []


def test_a_deadline_before_any_fact_refuses_with_every_check_pending() -> None:
    _, events = decide(None, samples.screening_deadline(samples.submitted()))
    assert isinstance(events[0], VettingRefused)
    assert events[0].reasons == tuple(check_pending(check) for check in Check)  # in check order


def screening_facts() -> list[Any]:
    application = samples.submitted()
    return [
        samples.screening(application, Check.MEDICAL),
        samples.screening(application, Check.MEDICAL, passed=False),
        samples.screening_deadline(application),
    ]


@pytest.mark.parametrize("status", [Status.CLEARED, Status.REFUSED, Status.CANCELLED])
@pytest.mark.parametrize("fact", screening_facts(), ids=["passed", "failed", "deadline"])
def test_a_screening_fact_for_a_closed_case_is_refused_and_changes_nothing(status: Status, fact: Any) -> None:
    state = Case(status=status)
    new_state, events = decide(state, fact)
    assert new_state == state
    assert isinstance(events[0], TransitionRefused) and events[0].refused_event_id == fact.event_id
    assert events[0].reason == f"a {status.value} vetting case takes no more screening facts"


@pytest.mark.parametrize(
    "status", [Status.NEW, Status.AWAITING_APPLICATION, Status.SCREENING, Status.CLEARED]
)
def test_a_withdrawal_cancels_an_open_or_cleared_case_silently(status: Status) -> None:
    state = None if status is Status.NEW else Case(status=status)
    cancelled, events = decide(state, withdrawn(samples.submitted()))
    assert cancelled == Case(status=Status.CANCELLED) and events == []


@pytest.mark.parametrize("status", [Status.REFUSED, Status.CANCELLED])
def test_a_withdrawal_of_a_refused_or_cancelled_case_is_ignored(status: Status) -> None:
    state = Case(status=status)
    assert decide(state, withdrawn(samples.submitted())) == (state, [])


def test_an_application_already_known_is_ignored() -> None:
    application = samples.submitted()
    state, _ = decide(None, received(application))
    assert decide(state, received(application)) == (state, [])


def test_a_cancelled_case_ignores_a_late_application() -> None:
    application = samples.submitted()
    state, _ = decide(None, withdrawn(application))
    assert decide(state, received(application)) == (state, [])


def test_upstream_rejections_and_refusals_are_ignored() -> None:
    application = samples.submitted()
    rejected = ApplicationRejected(
        subject_id="vol-1", producer="application", application_id="app-1", reasons=("no language given",)
    )
    refused = TransitionRefused(
        subject_id="vol-1",
        producer="application",
        refused_event_id="evt-1",
        refused_event_type="WithdrawalRequested",
        status="rejected",
        reason="a rejected application cannot become withdrawn",
    )
    state, _ = decide(None, received(application))
    assert decide(state, rejected) == (state, [])
    assert decide(state, refused) == (state, [])


def test_a_vsi_needs_no_nationality_and_a_french_minor_may_serve_at_home() -> None:
    colombian_living_in_france = candidate(nationality="CO", residence_country="FR", **VSI)
    assert ineligibility(colombian_living_in_france) == []
    french_minor_at_home = candidate(birth_date=dt.date(2009, 1, 1), nationality="FR", mission_country="FR")
    assert ineligibility(french_minor_at_home) == []  # 17 at the start, service civique in France


D = dt.date


def limits(earliest: D, latest: D | None, months: tuple[int, int]) -> MissionLimits:
    return MissionLimits(
        earliest_start=earliest, latest_start=latest, min_months=months[0], max_months=months[1]
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, limits(D(2020, 5, 14), D(2028, 5, 13), (6, 12))),
        ({"mission_country": "FR"}, limits(D(2018, 5, 14), D(2028, 5, 13), (6, 12))),
        ({"disability": True}, limits(D(2020, 5, 14), D(2033, 5, 13), (6, 12))),
        (VSI, limits(D(2020, 5, 14), None, (1, 24))),
        (VSI | {"prior_vsi_months": 60}, limits(D(2020, 5, 14), None, (1, 12))),
        (VSI | {"prior_vsi_months": 71}, limits(D(2020, 5, 14), None, (1, 1))),
        # born on 29 February: 18 on 1 March of a common year, 25 until 28 February of the 26th year
        ({"birth_date": D(2004, 2, 29)}, limits(D(2022, 3, 1), D(2030, 2, 28), (6, 12))),
    ],
    ids=["abroad", "at-home", "disability", "vsi", "vsi-60-served", "vsi-71-served", "29-february"],
)
def test_mission_limits_are_the_age_bounds_as_start_days_and_the_months_left(
    overrides: dict[str, Any], expected: MissionLimits
) -> None:
    assert rules.mission_limits(candidate(**overrides)) == expected


def test_a_clearance_carries_the_mission_limits_and_no_birth_date() -> None:
    application = samples.submitted()
    reports = samples.all_screenings(application)
    reports[1] = msgspec.structs.replace(reports[1], valid_until=dt.date(2027, 6, 30))  # the first to expire
    _, emitted = run([received(application), *reports])
    [cleared] = emitted
    assert isinstance(cleared, VettingCleared)
    limits = rules.mission_limits(Candidate.of(application.volunteer, application.wishes))
    assert cleared.limits == msgspec.structs.replace(limits, checks_valid_until=dt.date(2027, 6, 30))
    assert "birth" not in msgspec.json.encode(cleared).decode()
