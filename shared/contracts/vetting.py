"""Facts screening providers send in, and the events the vetting service publishes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import msgspec

from shared.contracts.application import ErasureCompleted, TransitionRefused
from shared.contracts.envelope import Event, Fact
from shared.contracts.types import CodedReasons, Id, check_dates


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


class MissionLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the mission offered to a cleared volunteer must respect under their scheme (docs/domain.md,
    rules common to all schemes: age on the day the contract is signed, the mission's start; durations of
    the mission, not of the availability). Vetting derives them from the birth date and the VSI time
    served, so placement checks an opening without knowing either."""

    earliest_start: dt.date  # the first day the volunteer is old enough to sign
    latest_start: dt.date | None = None  # the last day they are young enough to sign (None: no limit)
    min_months: int  # the scheme's shortest mission
    max_months: int  # the longest mission the scheme still allows this volunteer
    checks_valid_until: dt.date | None = None  # the last day every screening check is valid: a mission
    # starting later would need new checks


# Events of the vetting service (topic vetting.events)
class VettingCleared(Event, frozen=True, tag=True):
    """The volunteer is eligible for the scheme and passed every check; `limits` bound the mission placement
    may offer (absent from events written before they existed: then only the availability bounds it)."""

    application_id: Id
    limits: MissionLimits | None = None


class VettingRefused(Event, frozen=True, tag=True):
    """The volunteer is not eligible, or a check failed or expired; reasons name the rules."""

    application_id: Id
    reasons: CodedReasons


VettingEvent = VettingCleared | VettingRefused | TransitionRefused | ErasureCompleted
