"""Facts screening providers send in, and the events the vetting service publishes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from shared.contracts.application import TransitionRefused
from shared.contracts.envelope import Event, Fact
from shared.contracts.types import Id, Reasons, check_dates


class Check(StrEnum):
    """The screening checks every scheme requires."""

    BACKGROUND = "background"
    MEDICAL = "medical"
    REFERENCES = "references"
    INTERVIEW = "interview"


# Facts sent in by screening providers (their intake topic: shared.contracts.intake)
class ScreeningReported(Fact, frozen=True, tag=True):
    """A screening provider reports the outcome of one check, valid until a date."""

    application_id: Id
    check: Check
    passed: bool
    valid_until: dt.date

    def __post_init__(self) -> None:
        super().__post_init__()
        check_dates(self.valid_until)


class ScreeningDeadlinePassed(Fact, frozen=True, tag=True):
    """The screening window of an application closed; checks still pending expire."""

    application_id: Id


# Events of the vetting service (topic vetting.events)
class VettingCleared(Event, frozen=True, tag=True):
    """The volunteer is eligible for the scheme and passed every check."""

    application_id: Id


class VettingRefused(Event, frozen=True, tag=True):
    """The volunteer is not eligible, or a check failed or expired; reasons name the rules."""

    application_id: Id
    reasons: Reasons


VettingEvent = VettingCleared | VettingRefused | TransitionRefused
