"""The operators' view: stages folded from events, counts, one-line summaries without personal data."""

from __future__ import annotations

import msgspec

from services.application.domain import decide as decide_application
from services.cli.stages import count_by_stage, stages, summary
from shared import samples
from tests.examples import EXAMPLES, example


def test_the_latest_stage_of_each_application_wins_until_a_final_one() -> None:
    submitted = samples.submitted()
    _, received = decide_application(None, submitted)
    events = [submitted, *received]
    assert stages(events) == {"app-1": "2 in vetting"}


def test_a_final_stage_sticks_when_later_events_arrive() -> None:
    from shared.contracts.vetting import VettingRefused

    refused = example(VettingRefused)
    assert stages([refused, samples.submitted()]) == {"app-1": "x vetting refused"}


def test_an_erasure_ends_any_stage_a_final_one_too_and_nothing_moves_an_erased_volunteer_again() -> None:
    from shared.contracts.vetting import VettingRefused

    submitted, refused = samples.submitted(), example(VettingRefused)
    erased = [samples.erasure_completed(submitted, producer) for producer in ("application", "vetting")]
    assert stages([submitted, erased[0]]) == {"app-1": "x erased"}
    assert stages([submitted, refused, erased[0]]) == {"app-1": "x erased"}
    assert stages([submitted, erased[0], refused, erased[1], samples.submitted()]) == {"app-1": "x erased"}


def test_counts_are_grouped_by_stage_in_lifecycle_order() -> None:
    current = {"a": "9 arrived", "b": "2 in vetting", "c": "9 arrived"}
    assert list(count_by_stage(current).items()) == [("2 in vetting", 1), ("9 arrived", 2)]


def test_no_summary_shows_personal_data() -> None:
    volunteer = samples.volunteer()
    for _, event in EXAMPLES:
        line = summary(event)
        for secret in (volunteer.given_name, volunteer.family_name, volunteer.email, "2002-05-14"):
            assert secret not in line


def test_health_screening_and_visa_details_are_shown_only_when_asked() -> None:
    from shared.contracts.departure import MedicalReported
    from shared.contracts.reasons import check_failed
    from shared.contracts.vetting import Check, ScreeningReported, VettingRefused

    refused = VettingRefused(
        subject_id="vol-1", producer="vetting", application_id="app-1", reasons=(check_failed(Check.MEDICAL),)
    )
    medical, screening = example(MedicalReported), example(ScreeningReported)
    shown = (
        (refused, "check-failed:medical"),
        (medical, f"fit={medical.fit}"),  # type: ignore[attr-defined]
        (screening, f"passed={screening.passed}"),  # type: ignore[attr-defined]
    )
    for event, detail in shown:
        hidden = summary(event)
        assert detail not in hidden and "app-1" in hidden and "--sensitive" in hidden
        assert detail in summary(event, sensitive=True)
    withdrawn = samples.withdrawal(samples.submitted())
    assert withdrawn.reason not in summary(withdrawn)  # the volunteer's own words, kept by no read model
    assert withdrawn.reason in summary(withdrawn, sensitive=True)


def test_a_copy_of_an_old_event_does_not_move_a_volunteer_back() -> None:
    from shared.contracts.departure import VolunteerDeparted
    from shared.contracts.placement import PlacementProposed

    proposed, departed = example(PlacementProposed), example(VolunteerDeparted)
    assert stages([proposed, departed]) == {"app-1": "8 departed"}
    assert stages([proposed, departed, proposed]) == {"app-1": "8 departed"}  # republished, same identity
    again = msgspec.structs.replace(proposed, event_id="another-proposal")
    assert stages([proposed, departed, again]) == {"app-1": "5 proposed"}  # a new event still counts


def test_after_arrival_a_volunteer_moves_only_forward_through_the_missions_stages() -> None:
    from shared.contracts.departure import ArrivalConfirmed, MissionClosed, MissionEnded, VolunteerReturned
    from shared.contracts.placement import PlacementProposed

    arrived, ended = example(ArrivalConfirmed), example(MissionEnded)
    returned, closed, proposed = (
        example(VolunteerReturned),
        example(MissionClosed),
        example(PlacementProposed),
    )
    assert stages([arrived, ended]) == {"app-1": "10 mission ended"}
    assert stages([arrived, ended, proposed, arrived]) == {"app-1": "10 mission ended"}  # a late copy
    assert stages([arrived, ended, returned]) == {"app-1": "11 returned"}
    assert stages([arrived, returned, ended]) == {"app-1": "11 returned"}  # read from two topics
    assert stages([arrived, ended, returned, closed, arrived]) == {"app-1": "12 closed"}


def test_the_missions_stages_count_after_the_earlier_ones() -> None:
    current = {
        "a": "12 closed",
        "b": "10 mission ended",
        "c": "9 arrived",
        "d": "2 in vetting",
        "e": "x withdrawn",
    }
    assert list(count_by_stage(current)) == [
        "2 in vetting",
        "9 arrived",
        "10 mission ended",
        "12 closed",
        "x withdrawn",
    ]


def test_an_early_ends_reason_is_shown_only_when_asked() -> None:
    from shared.contracts.departure import MissionEnded

    ended = msgspec.structs.replace(example(MissionEnded), early=True, reason="repatriation:medical")
    assert "repatriation:medical" not in summary(ended) and "last_day=2027-08-31" in summary(ended)
    assert "reason=repatriation:medical" in summary(ended, sensitive=True)


def test_a_choice_says_who_chose_and_whether_the_other_chooser_agrees() -> None:
    from shared.contracts.placement import CandidateChosen, Chooser

    waiting = msgspec.structs.replace(example(CandidateChosen), by=Chooser.HOST, agreed=False)
    assert summary(waiting).endswith("by=host agreed=False")
