"""The mission after arrival, in the departure service: each rule at its boundaries, each fact in each
status, and whole missions to their closure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.departure import rules
from services.departure.domain import Departure, Hosted, Status, decide, reported
from services.departure.rules import Mission
from shared import samples
from shared.contracts import departure as dep
from shared.contracts.codec import ContractError, decode
from shared.contracts.departure import EarlyEndReason, InterviewStage, RepatriationCause
from shared.contracts.envelope import Event, new_id
from shared.contracts.placement import Party
from shared.contracts.topics import Topic
from shared.contracts.types import Scheme
from tests.unit.test_departure_domain import (
    APPLICATION,
    PATHS,
    PLANNED_RETURN,
    at,
    confirmed,
    drive,
    on_site,
    types,
)

START = dt.date(2026, 9, 1)  # the missions of `confirmed`: 1 September 2026 to 31 August 2027


def mission(scheme: Scheme | None = Scheme.SERVICE_CIVIQUE, months: int = 12, **fields: Any) -> Mission:
    end = rules.add_months(START, months) - dt.timedelta(days=1)
    return Mission(scheme=scheme, start_date=START, end_date=end, **fields)


def on_mission(**confirmation: Any) -> Departure | None:
    """A case on site, its placement confirmed with `confirmation`'s fields."""
    path = [confirmed(**confirmation), *PATHS[Status.ARRIVED][1:]]
    state, _ = drive(path)
    assert state is not None and state.status is Status.ARRIVED
    return state


def stated_on(fact: Event, day: dt.date) -> Event:
    return msgspec.structs.replace(fact, occurred_at=dt.datetime.combine(day, dt.time(9), dt.UTC))


@pytest.mark.parametrize(
    ("day", "in_time"),
    [(dt.date(2026, 11, 30), True), (dt.date(2026, 12, 1), False), (dt.date(2026, 9, 1), True)],
)
def test_the_civic_training_is_in_time_within_the_missions_first_three_months(
    day: dt.date, in_time: bool
) -> None:
    assert rules.civic_training_in_time(mission(), day) is in_time
    state, events = decide(on_mission(), stated_on(on_site(dep.CivicTrainingAttended), day))
    assert state is not None and state.mission is not None and state.mission.civic_training
    assert [(type(e), getattr(e, "in_time", None)) for e in events] == [(dep.CivicTrainingRecorded, in_time)]


def test_a_vsi_has_no_civic_training() -> None:
    state = on_mission(scheme=Scheme.VSI, max_months=24)
    assert decide(state, on_site(dep.CivicTrainingAttended))[1][0].reason == (  # type: ignore[attr-defined]
        "the civic training concerns service civique, not a vsi"
    )


@pytest.mark.parametrize(
    ("scheme", "months", "max_months", "end", "problem"),
    [
        (Scheme.SERVICE_CIVIQUE, 6, None, dt.date(2027, 8, 31), None),  # to 12 months
        (Scheme.SERVICE_CIVIQUE, 6, None, dt.date(2027, 9, 1), "goes past 2027-08-31"),  # 12 months + a day
        (Scheme.RECIPROCITY, 12, None, dt.date(2027, 9, 1), "goes past 2027-08-31"),
        (Scheme.VSI, 12, 24, dt.date(2028, 8, 31), None),  # to 24 months
        (Scheme.VSI, 12, 24, dt.date(2028, 9, 1), "goes past 2028-08-31"),
        (Scheme.VSI, 12, 14, dt.date(2027, 10, 31), None),  # 14 months: what is left of their 72
        (Scheme.VSI, 12, 14, dt.date(2027, 11, 1), "goes past 2027-10-31"),
        (Scheme.VSI, 12, None, dt.date(2028, 8, 31), None),  # no clearance limit: the scheme's 24
        (Scheme.SERVICE_CIVIQUE, 6, None, dt.date(2027, 2, 28), "must end after the mission's last day"),
        (None, 6, None, dt.date(2027, 5, 31), "the mission's scheme is not known"),
    ],
)
def test_an_extension_stays_within_what_the_scheme_allows_the_volunteer(
    scheme: Scheme | None, months: int, max_months: int | None, end: dt.date, problem: str | None
) -> None:
    planned = mission(scheme, months, max_months=max_months)
    found = rules.extension(planned, end)
    assert (found is None) if problem is None else (found is not None and problem in found), found
    state = on_mission(scheme=scheme, max_months=max_months, end_date=planned.end_date)
    new_state, events = decide(state, on_site(dep.ExtensionAgreed, end_date=end))
    if problem is None:
        assert new_state is not None and new_state.mission is not None and new_state.mission.end_date == end
        assert types(events) == ["MissionExtended"]
    else:
        assert new_state == state and types(events) == ["TransitionRefused"]


NOTIFIED = dt.date(2027, 1, 15)


@pytest.mark.parametrize(
    ("scheme", "last_day", "ground", "problem"),
    [
        (Scheme.VSI, dt.date(2027, 2, 15), EarlyEndReason.HOST_DECISION, None),  # exactly a month
        (Scheme.VSI, dt.date(2027, 2, 14), EarlyEndReason.HOST_DECISION, "needs 1 month's notice"),
        (Scheme.VSI, dt.date(2027, 2, 14), EarlyEndReason.VOLUNTEER_DECISION, "needs 1 month's notice"),
        (Scheme.VSI, dt.date(2027, 2, 14), EarlyEndReason.MUTUAL_AGREEMENT, "needs 1 month's notice"),
        (Scheme.SERVICE_CIVIQUE, NOTIFIED, EarlyEndReason.MUTUAL_AGREEMENT, None),
        (Scheme.SERVICE_CIVIQUE, dt.date(2027, 1, 14), EarlyEndReason.MUTUAL_AGREEMENT, "before the notice"),
        (Scheme.SERVICE_CIVIQUE, PLANNED_RETURN, EarlyEndReason.HOST_DECISION, "ends on 2027-08-31 anyway"),
    ],
)
def test_an_early_end_comes_before_the_missions_end_with_a_vsis_month_of_notice(
    scheme: Scheme, last_day: dt.date, ground: EarlyEndReason, problem: str | None
) -> None:
    found = rules.early_end(mission(scheme), NOTIFIED, last_day)
    assert (found is None) if problem is None else (found is not None and problem in found), found
    state = on_mission(scheme=scheme)
    fact = stated_on(on_site(dep.EarlyEndNotified, last_day=last_day, ground=ground), NOTIFIED)
    new_state, events = decide(state, fact)
    if problem is None:  # on site until the last day, when the host reports the end
        assert new_state is not None and new_state.status is Status.ENDING
        assert [(e.last_day, e.reason) for e in events] == [(last_day, f"early-end:{ground}")]  # type: ignore[attr-defined]
        ended, events = decide(new_state, on_site(dep.MissionEndReported, ended_on=last_day))
        assert ended is not None and ended.status is Status.ENDED
        assert [(e.last_day, e.early, e.reason) for e in events] == [  # type: ignore[attr-defined]
            (last_day, True, f"early-end:{ground}")
        ]
    else:
        assert new_state == state and types(events) == ["TransitionRefused"]


def test_the_volunteer_may_end_early_through_the_portal() -> None:
    fact = on_site(dep.EarlyEndNotified, party=Party.VOLUNTEER, last_day=dt.date(2027, 3, 31),
                   ground=EarlyEndReason.VOLUNTEER_DECISION)  # fmt: skip
    assert fact.producer == "portal"
    state, events = decide(on_mission(), stated_on(fact, NOTIFIED))
    assert state is not None and state.status is Status.ENDING and types(events) == ["MissionEndingEarly"]


def test_during_the_notice_the_volunteer_is_on_site_and_may_be_repatriated() -> None:
    notice = on_site(dep.EarlyEndNotified, last_day=dt.date(2027, 3, 31), ground=EarlyEndReason.HOST_DECISION)
    state, _ = decide(on_mission(), stated_on(notice, NOTIFIED))
    state, events = decide(state, on_site(dep.InterviewHeld, stage=InterviewStage.START))
    assert types(events) == ["InterviewRecorded"]
    refused = decide(state, on_site(dep.ExtensionAgreed, end_date=PLANNED_RETURN))[1]
    assert refused[0].reason == "an early end is notified already"  # type: ignore[attr-defined]
    repatriated = stated_on(
        on_site(dep.RepatriationOrdered, cause=RepatriationCause.MEDICAL), dt.date(2027, 2, 1)
    )
    state, events = decide(state, repatriated)
    assert state is not None and state.status is Status.ENDED
    assert [(e.last_day, e.reason) for e in events] == [(dt.date(2027, 2, 1), "repatriation:medical")]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("day", "last_day"), [(NOTIFIED, NOTIFIED), (dt.date(2027, 9, 10), PLANNED_RETURN)])
def test_a_repatriation_ends_the_mission_that_day_with_its_cause(day: dt.date, last_day: dt.date) -> None:
    fact = stated_on(on_site(dep.RepatriationOrdered, cause=RepatriationCause.SECURITY), day)
    state, events = decide(on_mission(), fact)
    assert state is not None and state.status is Status.ENDED
    assert [(e.last_day, e.early, e.reason) for e in events] == [  # type: ignore[attr-defined]
        (last_day, True, "repatriation:security")
    ]


def test_the_host_reports_the_end_only_on_the_contracts_last_day() -> None:
    early = on_site(dep.MissionEndReported, ended_on=PLANNED_RETURN - dt.timedelta(days=1))
    state = on_mission()
    assert decide(state, early)[1][0].reason == (  # type: ignore[attr-defined]
        "the mission ends on 2027-08-31; an end on another day is an early end"
    )
    ended, events = decide(state, on_site(dep.MissionEndReported, ended_on=PLANNED_RETURN))
    assert ended is not None and ended.status is Status.ENDED
    assert [(e.last_day, e.early, e.reason) for e in events] == [  # type: ignore[attr-defined]
        (PLANNED_RETURN, False, "completed")
    ]


def test_an_extension_needs_the_passport_valid_six_months_after_its_new_end_and_a_renewal_allows_it() -> None:
    short = dt.date(2027, 12, 31)  # 6 months past the 28 February 2027 return, not past 31 August 2027
    six_months = confirmed(end_date=dt.date(2027, 2, 28))
    path = [
        six_months,
        *samples.checklist(APPLICATION, passport_expires_on=short),
        *PATHS[Status.ARRIVED][-2:],
    ]
    state, _ = drive(path)
    assert state is not None and state.status is Status.ARRIVED
    assert state.checklist.passport_expires_on == short
    extended = on_site(dep.ExtensionAgreed, end_date=dt.date(2027, 8, 31))
    new_state, events = decide(state, extended)
    assert new_state == state and types(events) == ["TransitionRefused"]
    assert events[0].reason == (  # type: ignore[attr-defined]
        "passport expires less than 6 months after the planned return of an extension to 2027-08-31: "
        "report the renewed passport first"
    )
    older = on_site(dep.PassportChecked, expires_on=short)
    assert types(decide(state, older)[1]) == ["TransitionRefused"]  # not a renewal
    renewed, events = decide(state, on_site(dep.PassportChecked, expires_on=dt.date(2036, 1, 1)))
    assert (
        renewed is not None and events == [] and renewed.checklist.passport_expires_on == dt.date(2036, 1, 1)
    )
    assert types(decide(renewed, extended)[1]) == ["MissionExtended"]


def test_an_extended_mission_ends_on_its_new_last_day() -> None:
    state = on_mission(end_date=dt.date(2027, 2, 28))  # a 6-month mission
    state, _ = decide(state, on_site(dep.ExtensionAgreed, end_date=dt.date(2027, 5, 31)))
    assert types(decide(state, on_site(dep.MissionEndReported, ended_on=dt.date(2027, 2, 28)))[1]) == [
        "TransitionRefused"
    ]
    assert types(decide(state, on_site(dep.MissionEndReported, ended_on=dt.date(2027, 5, 31)))[1]) == [
        "MissionEnded"
    ]


def test_a_whole_mission_closes_once_the_volunteer_is_back_and_the_end_interview_held() -> None:
    steps = [
        on_site(dep.InterviewHeld, stage=InterviewStage.START),
        on_site(dep.CivicTrainingAttended),
        on_site(dep.InterviewHeld, stage=InterviewStage.MID_TERM),
        on_site(dep.MissionEndReported, ended_on=PLANNED_RETURN),
        on_site(dep.ReturnReported, returned_on=PLANNED_RETURN),
        on_site(dep.InterviewHeld, stage=InterviewStage.END),
        on_site(dep.MissionReportSubmitted),
    ]
    state, events = drive(steps, on_mission())
    assert state is not None and state.status is Status.CLOSED
    assert types(events) == [
        "InterviewRecorded", "CivicTrainingRecorded", "InterviewRecorded", "MissionEnded",
        "VolunteerReturned", "InterviewRecorded", "MissionReportRecorded", "MissionClosed",
    ]  # fmt: skip
    assert all(getattr(e, "placement_id", None) == "pl-1" for e in events)


def test_the_end_interview_and_the_report_before_the_return_close_the_case_on_the_return() -> None:
    steps = [
        on_site(dep.MissionEndReported, ended_on=PLANNED_RETURN),
        on_site(dep.InterviewHeld, stage=InterviewStage.END),
        on_site(dep.MissionReportSubmitted),
        on_site(dep.ReturnReported, returned_on=PLANNED_RETURN + dt.timedelta(days=3)),
    ]
    state, events = drive(steps, on_mission())
    assert state is not None and state.status is Status.CLOSED
    assert types(events) == [
        "MissionEnded", "InterviewRecorded", "MissionReportRecorded", "VolunteerReturned", "MissionClosed"
    ]  # fmt: skip


def test_back_and_interviewed_the_case_waits_for_the_report_which_comes_once_the_mission_has_ended() -> None:
    steps = [
        on_site(dep.MissionEndReported, ended_on=PLANNED_RETURN),
        on_site(dep.ReturnReported, returned_on=PLANNED_RETURN),
        on_site(dep.InterviewHeld, stage=InterviewStage.END),
    ]
    state, events = drive(steps, on_mission())
    assert state is not None and state.status is Status.RETURNED and "MissionClosed" not in types(events)
    early = decide(on_mission(), on_site(dep.MissionReportSubmitted))[1]
    assert early[0].reason == "the end-of-mission report comes once the mission has ended"  # type: ignore[attr-defined]
    state, events = decide(state, on_site(dep.MissionReportSubmitted))
    assert state is not None and state.status is Status.CLOSED
    assert types(events) == ["MissionReportRecorded", "MissionClosed"]
    assert decide(state, on_site(dep.MissionReportSubmitted)) == (state, [])  # handed in already


def test_a_return_before_the_last_day_is_refused() -> None:
    state, _ = decide(on_mission(), on_site(dep.MissionEndReported, ended_on=PLANNED_RETURN))
    early = on_site(dep.ReturnReported, returned_on=PLANNED_RETURN - dt.timedelta(days=1))
    assert decide(state, early)[1][0].reason == (  # type: ignore[attr-defined]
        "the return is before the mission's last day, 2027-08-31"
    )


def test_the_mid_term_interview_comes_after_the_start_interview() -> None:
    refused = decide(on_mission(), on_site(dep.InterviewHeld, stage=InterviewStage.MID_TERM))[1]
    assert refused[0].reason == "the mid-term interview comes after the start interview"  # type: ignore[attr-defined]


MISSION_FACTS: dict[str, Event] = {
    "civic training": on_site(dep.CivicTrainingAttended),
    "start interview": on_site(dep.InterviewHeld, stage=InterviewStage.START),
    "end interview": on_site(dep.InterviewHeld, stage=InterviewStage.END),
    "extension": on_site(dep.ExtensionAgreed, end_date=PLANNED_RETURN + dt.timedelta(days=1)),
    "early end": on_site(dep.EarlyEndNotified, last_day=PLANNED_RETURN - dt.timedelta(days=1),
                         ground=EarlyEndReason.MUTUAL_AGREEMENT),
    "repatriation": on_site(dep.RepatriationOrdered, cause=RepatriationCause.MEDICAL),
    "end": on_site(dep.MissionEndReported, ended_on=PLANNED_RETURN),
    "return": on_site(dep.ReturnReported, returned_on=PLANNED_RETURN),
    "report": on_site(dep.MissionReportSubmitted),
}  # fmt: skip
# Where each fact is taken (its events) — anywhere else it is refused, the state unchanged.
TAKEN: dict[str, dict[Status, list[str]]] = {
    "civic training": {Status.ARRIVED: ["CivicTrainingRecorded"], Status.ENDING: ["CivicTrainingRecorded"]},
    "start interview": {Status.ARRIVED: ["InterviewRecorded"], Status.ENDING: ["InterviewRecorded"]},
    "end interview": {
        Status.ARRIVED: ["InterviewRecorded"],
        Status.ENDING: ["InterviewRecorded"],
        Status.ENDED: ["InterviewRecorded"],
        Status.RETURNED: ["InterviewRecorded"],  # the report is not handed in yet
        Status.CLOSED: [],  # held already: nothing new
    },
    "extension": {},  # a 12-month service civique cannot be extended, even on site
    "early end": {Status.ARRIVED: ["MissionEndingEarly"]},
    "repatriation": {Status.ARRIVED: ["MissionEnded"], Status.ENDING: ["MissionEnded"]},
    "end": {Status.ARRIVED: ["MissionEnded"]},  # while ending, only on the notified last day
    "return": {Status.ENDED: ["VolunteerReturned"]},
    "report": {Status.ENDED: ["MissionReportRecorded"], Status.RETURNED: ["MissionReportRecorded"],
               Status.CLOSED: []},  # handed in already
}  # fmt: skip


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("name", list(MISSION_FACTS))
def test_each_fact_of_the_mission_is_taken_only_where_the_table_says(status: Status, name: str) -> None:
    state = at(status)
    new_state, events = decide(state, MISSION_FACTS[name])
    if status in TAKEN[name]:
        assert types(events) == TAKEN[name][status]
        assert (new_state is state) is (events == [])
    else:
        assert new_state == state and types(events) == ["TransitionRefused"]


# Any order of any of the mission's facts, each possibly sent twice, on a 12-month service civique (the
# VSI's notice and the extensions' bounds are the rule tables' above).
STAGE_ORDER = [Status.ARRIVED, Status.ENDING, Status.ENDED, Status.RETURNED, Status.CLOSED]
ANY_FACT = st.sampled_from(list(MISSION_FACTS.values()))


@settings(max_examples=500, deadline=None, database=None)
@given(facts=st.lists(ANY_FACT, max_size=12), extra=st.lists(ANY_FACT, max_size=4))
def test_in_any_order_the_mission_moves_only_forward_and_each_ending_happens_once(
    facts: list[Event], extra: list[Event]
) -> None:
    state = on_mission()
    emitted: list[Event] = []
    for fact in [*facts, *extra]:
        assert state is not None
        before = STAGE_ORDER.index(state.status)
        state, events = decide(state, msgspec.structs.replace(fact, event_id=new_id()))
        assert state is not None and STAGE_ORDER.index(state.status) >= before  # never back
        refused = [e for e in events if e.event_type == "TransitionRefused"]
        assert not refused or events == refused  # a refusal changes nothing and comes alone
        emitted += events
    kinds = [e.event_type for e in emitted]
    for once in ("MissionEnded", "VolunteerReturned", "MissionClosed", "CivicTrainingRecorded"):
        assert kinds.count(once) <= 1, kinds
    if "MissionClosed" in kinds:  # closed only once back, after the end interview and the report
        closed = kinds.index("MissionClosed")
        assert "VolunteerReturned" in kinds[:closed] and "MissionReportRecorded" in kinds[:closed]
        assert any(getattr(e, "stage", None) is InterviewStage.END for e in emitted[:closed])
    if "VolunteerReturned" in kinds:
        assert kinds.index("MissionEnded") < kinds.index("VolunteerReturned")
    assert state is not None and (state.status is Status.CLOSED) == ("MissionClosed" in kinds)


ON = dt.date(2027, 5, 31)
AT = dt.datetime(2027, 1, 4, 10, 0, tzinfo=dt.UTC)
REPORT_IDS: dict[str, Any] = {"subject_id": "pl-1", "producer": "partner-npc", "event_id": "r-1"}
IDS = {**REPORT_IDS, "subject_id": "vol-1", "application_id": "app-1", "occurred_at": AT}
REPORT_IDS["occurred_at"] = AT


@pytest.mark.parametrize(
    ("kind", "fields", "stands_for"),
    [(dep.HostReport.ARRIVED, {}, dep.ArrivalReported(**IDS)),
     (dep.HostReport.EXTENDED, {"end_date": ON}, dep.ExtensionAgreed(**IDS, end_date=ON)),
     (dep.HostReport.ENDING_EARLY, {"end_date": ON, "ground": EarlyEndReason.HOST_DECISION},
      dep.EarlyEndNotified(**IDS, party=Party.HOST, last_day=ON, ground=EarlyEndReason.HOST_DECISION)),
     (dep.HostReport.ENDED, {"end_date": ON}, dep.MissionEndReported(**IDS, ended_on=ON))],
)  # fmt: skip
def test_a_hosts_report_by_placement_id_stands_for_its_fact_about_the_placements_case(
    kind: dep.HostReport, fields: dict[str, Any], stands_for: Event
) -> None:
    report = dep.PlacementReported(**REPORT_IDS, placement_id="pl-1", report=kind, **fields)
    assert reported(report, Hosted(application_id="app-1", volunteer_id="vol-1")) == stands_for


@pytest.mark.parametrize(
    ("kind", "fields"),
    [(dep.HostReport.ARRIVED, {"end_date": ON}), (dep.HostReport.EXTENDED, {}),
     (dep.HostReport.ENDED, {"end_date": ON, "ground": EarlyEndReason.HOST_DECISION}),
     (dep.HostReport.ENDING_EARLY, {"end_date": ON}),
     (dep.HostReport.ENDED, {"end_date": dt.date(2101, 1, 1)})],
)  # fmt: skip
def test_a_report_without_what_it_needs_or_with_what_it_has_no_use_for_is_refused(
    kind: dep.HostReport, fields: dict[str, Any]
) -> None:
    body = {**REPORT_IDS, "occurred_at": "2027-01-01T00:00:00Z", "placement_id": "pl-1", "report": kind,
            "event_type": "PlacementReported"} | {k: str(v) for k, v in fields.items()}  # fmt: skip
    with pytest.raises(ContractError, match=r"end_date|ground|date out of range"):
        decode(Topic.DEPARTURE_INTAKE_HOST, msgspec.json.encode(body))
