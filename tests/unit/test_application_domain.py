"""The application state machine, row by row."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from services.application.domain import Application, Status, decide, problems
from shared import samples
from shared.contracts.application import ApplicationReceived, ApplicationRejected, ApplicationWithdrawn
from shared.contracts.codec import encode
from shared.contracts.reasons import ReasonCode as R
from shared.contracts.types import Scheme


def test_a_sound_application_is_received_with_the_volunteer_and_wishes() -> None:
    event = samples.submitted()
    state, events = decide(None, event)
    assert state == Application(status=Status.RECEIVED, volunteer_id="vol-1", scheme=Scheme.SERVICE_CIVIQUE)
    assert [type(e) for e in events] == [ApplicationReceived]
    assert events[0].causation_id == event.event_id
    assert events[0].subject_id == "vol-1"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"documents": ("cv",)}, "missing documents: identity-document, motivation-letter"),
        (
            {"wishes": samples.wishes(available_until=dt.date(2026, 8, 1))},
            "availability ends before it starts",
        ),
        ({"wishes": samples.wishes(available_from=dt.date(2026, 1, 1))}, "availability starts in the past"),
        ({"wishes": samples.wishes(languages=())}, "no language given"),
        ({"volunteer": samples.volunteer(birth_date=dt.date(2027, 1, 1))}, "birth date is not in the past"),
    ],
)
def test_an_unsound_application_is_rejected_with_the_reason(
    overrides: dict[str, object], reason: str
) -> None:
    event = samples.submitted(**overrides)
    assert reason in problems(event)
    state, events = decide(None, event)
    assert state is not None and state.status is Status.REJECTED
    assert isinstance(events[0], ApplicationRejected) and reason in events[0].reasons


@pytest.mark.parametrize(
    ("birth_date", "documents", "missing"),
    [
        (dt.date(2008, 9, 2), (), True),  # 17 on 1 September 2026, the first day available
        (dt.date(2008, 9, 1), (), False),  # 18 that day
        (dt.date(2010, 5, 1), ("parental-authorisation",), False),
    ],
)
def test_a_minor_needs_a_parental_authorisation(
    birth_date: dt.date, documents: tuple[str, ...], missing: bool
) -> None:
    event = samples.submitted(volunteer=samples.volunteer(birth_date=birth_date))
    event = msgspec.structs.replace(event, documents=(*event.documents, *documents))
    reason = "missing documents: parental-authorisation (a minor when the availability starts)"
    assert (reason in problems(event)) is missing


def test_a_duplicate_application_is_rejected() -> None:
    state, events = decide(None, samples.submitted(), duplicate=True)
    assert state is not None and state.status is Status.REJECTED
    assert isinstance(events[0], ApplicationRejected)
    assert events[0].reasons == ("an open application exists for this volunteer and scheme",)


def test_a_received_application_can_be_withdrawn_and_the_volunteers_words_stay_on_the_intake_topic() -> None:
    event = samples.submitted()
    state, _ = decide(None, event)
    withdrawn, events = decide(state, samples.withdrawal(event, reason="my mother is ill"))
    assert withdrawn is not None and withdrawn.status is Status.WITHDRAWN
    assert isinstance(events[0], ApplicationWithdrawn) and events[0].reason == R.VOLUNTEER_WITHDREW
    assert "mother" not in encode(events[0]).decode()


@pytest.mark.parametrize("status", [Status.REJECTED, Status.WITHDRAWN])
def test_a_closed_application_refuses_withdrawal_and_stays_as_it_is(status: Status) -> None:
    state = Application(status=status, volunteer_id="vol-1", scheme=Scheme.VSI)
    new_state, events = decide(state, samples.withdrawal(samples.submitted()))
    assert new_state == state
    assert events[0].event_type == "TransitionRefused"
    assert events[0].reason == f"a {status.value} application cannot become withdrawn"  # type: ignore[attr-defined]


def test_withdrawing_an_unknown_application_is_refused() -> None:
    state, events = decide(None, samples.withdrawal(samples.submitted()))
    assert state is None
    assert events[0].reason == "no such application"  # type: ignore[attr-defined]


def test_a_second_submission_of_the_same_application_is_refused() -> None:
    state, _ = decide(None, samples.submitted())
    again, events = decide(state, samples.submitted())
    assert again == state
    assert events[0].event_type == "TransitionRefused"
