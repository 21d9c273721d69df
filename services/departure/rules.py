"""The pre-departure checklist, the mission on site and their rules, as pure values and functions. No I/O.

docs/domain.md, 'The lifecycle' 4, 6 and 7."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec
from msgspec.structs import replace

from shared.contracts.departure import (
    ConsularRegistrationDone,
    DepartureFact,
    InsuranceSubscribed,
    InterviewStage,
    Item,
    MedicalReported,
    PassportChecked,
    SecurityBriefingAttended,
    TrainingCompleted,
    TravelBooked,
    VisaDecided,
)
from shared.contracts.envelope import Event
from shared.contracts.reasons import ReasonCode
from shared.contracts.types import Scheme
from shared.dates import add_months
from shared.schemes import CIVIC_MAX_MONTHS, VSI_MAX_MONTHS

# docs/domain.md, 'The lifecycle' 4: a passport valid at least 6 months after the planned return.
PASSPORT_MARGIN_MONTHS = 6
PASSPORT_TOO_SHORT = "passport expires less than 6 months after the planned return"
NOT_SIGNED = "cannot depart before the contract is signed"

# The checklist item each outside fact completes (docs/domain.md, 'The lifecycle' 4, the eight items).
ITEM_OF: dict[type[Event], Item] = {
    TrainingCompleted: Item.TRAINING,
    MedicalReported: Item.MEDICAL,
    PassportChecked: Item.PASSPORT,
    VisaDecided: Item.VISA,
    InsuranceSubscribed: Item.INSURANCE,
    TravelBooked: Item.TRAVEL,
    SecurityBriefingAttended: Item.SECURITY_BRIEFING,
    ConsularRegistrationDone: Item.CONSULAR_REGISTRATION,
}


def passport_valid(expires_on: dt.date, planned_return: dt.date) -> bool:
    """Tell whether the passport is still valid 6 calendar months after the planned return."""
    return expires_on >= add_months(planned_return, PASSPORT_MARGIN_MONTHS)


# What a case saved before reasons became codes may hold, waiting for its placement: sent as its code.
WORDED = {
    "visa refused": ReasonCode.VISA_REFUSED,
    "medical check failed": ReasonCode.MEDICALLY_UNFIT,
    "withdrawn by the volunteer": ReasonCode.VOLUNTEER_WITHDREW,
}


def coded(reason: str) -> str:
    """The code of a cancellation reason a case kept (see `WORDED`)."""
    return WORDED.get(reason, reason)


def failure(fact: Event) -> ReasonCode | None:
    """Return why `fact` cancels the departure (docs/domain.md, 'The lifecycle' 4: a refused visa or a
    failed medical), or None."""
    if isinstance(fact, VisaDecided) and not fact.granted:
        return ReasonCode.VISA_REFUSED
    if isinstance(fact, MedicalReported) and not fact.fit:
        return ReasonCode.MEDICALLY_UNFIT
    return None


def in_order(items: Iterable[Item]) -> tuple[Item, ...]:
    """Return the items in checklist order, once each."""
    present = set(items)
    return tuple(item for item in Item if item in present)


class PendingPassport(msgspec.Struct, frozen=True, kw_only=True):
    """A passport expiry reported before the return date was known, and the fact that reported it."""

    expires_on: dt.date
    event_id: str


class Checklist(msgspec.Struct, frozen=True, kw_only=True):
    """Done items and the dates they need; no passport number (docs/domain.md, 'Personal data')."""

    done: tuple[Item, ...] = ()
    planned_return: dt.date | None = None  # known once the placement is confirmed
    departure_date: dt.date | None = None
    pending_passport: PendingPassport | None = None
    passport_expires_on: dt.date | None = None  # of the passport recorded: an extension must fit it too

    @property
    def complete(self) -> bool:
        """Tell whether every item is done: the condition to sign the contract."""
        return set(self.done) == set(Item)

    def accepts(self, fact: DepartureFact) -> bool:
        """Tell whether a fact may be recorded: not a passport expiring too early for the known return."""
        return not (
            isinstance(fact, PassportChecked)
            and self.planned_return is not None
            and not passport_valid(fact.expires_on, self.planned_return)
        )

    def recording(self, fact: DepartureFact) -> Checklist:
        """Return the checklist with the item `fact` completes (a passport waits for the return date)."""
        if isinstance(fact, PassportChecked) and self.planned_return is None:
            return replace(
                self, pending_passport=PendingPassport(expires_on=fact.expires_on, event_id=fact.event_id)
            )
        updated = replace(self, done=in_order((*self.done, ITEM_OF[type(fact)])))
        if isinstance(fact, PassportChecked):
            updated = replace(updated, passport_expires_on=fact.expires_on)
        if isinstance(fact, TravelBooked):
            updated = replace(updated, departure_date=fact.departure_date)
        return updated

    def opened(self, planned_return: dt.date) -> tuple[Checklist, str | None]:
        """Return the checklist once the return is known, and the id of a passport fact it now refuses."""
        passport = self.pending_passport
        opened = replace(self, planned_return=planned_return, pending_passport=None)
        if passport is None:
            return opened, None
        if passport_valid(passport.expires_on, planned_return):
            done = in_order((*opened.done, Item.PASSPORT))
            return replace(opened, done=done, passport_expires_on=passport.expires_on), None
        return opened, passport.event_id


# The mission after arrival (docs/domain.md, 'The lifecycle' 6 and 7).
CIVIC_TRAINING_WITHIN_MONTHS = 3  # service civique: the civic training, in the mission's first 3 months
VSI_NOTICE_MONTHS = 1  # VSI: an early end needs at least a month's notice
LONGEST_MISSION = {Scheme.VSI: VSI_MAX_MONTHS, Scheme.SERVICE_CIVIQUE: CIVIC_MAX_MONTHS,
                   Scheme.RECIPROCITY: CIVIC_MAX_MONTHS}  # fmt: skip


class Mission(msgspec.Struct, frozen=True, kw_only=True):
    """The mission a confirmed placement starts: its scheme and dates, and what happened on site."""

    scheme: Scheme | None  # None: confirmed before placements named it; no extension is then allowed
    start_date: dt.date
    end_date: dt.date  # the contract's last day, moved by an extension
    max_months: int | None = None  # the longest mission the scheme allows this volunteer (their clearance)
    interviews: tuple[InterviewStage, ...] = ()
    civic_training: bool = False
    report: bool = False  # the end-of-mission report handed in
    last_day: dt.date | None = None  # known once an early end is notified, or the mission has ended
    ending: str | None = None  # the reason code of an early end notified

    def latest_end(self) -> dt.date | None:
        """The last day an extension may reach: the start plus the months the scheme allows the volunteer."""
        months = self.max_months or (LONGEST_MISSION[self.scheme] if self.scheme else None)
        return None if months is None else add_months(self.start_date, months) - dt.timedelta(days=1)


def civic_training(mission: Mission) -> str | None:
    """Why the civic training cannot be recorded for this mission: it is service civique's, not VSI's."""
    if mission.scheme is Scheme.VSI:
        return "the civic training concerns service civique, not a vsi"
    return None


def civic_training_in_time(mission: Mission, on: dt.date) -> bool:
    """Tell whether a civic training on `on` falls within the mission's first 3 months."""
    return on < add_months(mission.start_date, CIVIC_TRAINING_WITHIN_MONTHS)


def extension(mission: Mission, end_date: dt.date, passport_expires_on: dt.date | None = None) -> str | None:
    """Why the mission cannot be extended to `end_date`: not later than its end, beyond what the scheme
    allows the volunteer (service civique 12 months, VSI 24 and what is left of their 72), or past what the
    passport recorded allows (valid 6 months after the return, as before departure: a renewed passport is
    reported first)."""
    if passport_expires_on is not None and not passport_valid(passport_expires_on, end_date):
        return f"{PASSPORT_TOO_SHORT} of an extension to {end_date}: report the renewed passport first"
    if end_date <= mission.end_date:
        return f"an extension must end after the mission's last day, {mission.end_date}"
    latest = mission.latest_end()
    if latest is None:
        return "the mission's scheme is not known: it cannot be extended"
    if end_date > latest:
        return f"an extension to {end_date} goes past {latest}, the longest mission the scheme allows"
    return None


def early_end(mission: Mission, notified_on: dt.date, last_day: dt.date) -> str | None:
    """Why an early end notified on `notified_on` cannot end the mission on `last_day`: not before its end,
    in the past, or, for a VSI, with less than a month's notice (law 2005-159, art. 4; whatever the ground:
    a mission that must stop at once is a repatriation, which the agency orders)."""
    if last_day >= mission.end_date:
        return f"the mission ends on {mission.end_date} anyway: an early end must come before"
    if last_day < notified_on:
        return "the last day is before the notice"
    notice_ends = add_months(notified_on, VSI_NOTICE_MONTHS)
    if mission.scheme is Scheme.VSI and last_day < notice_ends:
        return f"vsi: an early end needs {VSI_NOTICE_MONTHS} month's notice (a last day from {notice_ends})"
    return None


def mission_end(mission: Mission, ended_on: dt.date) -> str | None:
    """Why the host cannot report the mission ended on `ended_on`: only the contract's last day, or the
    last day of an early end notified, is an end; an earlier one is an early end, with its notice."""
    last_day = mission.last_day or mission.end_date
    if ended_on != last_day:
        return f"the mission ends on {last_day}; an end on another day is an early end"
    return None


def homecoming(mission: Mission, returned_on: dt.date) -> str | None:
    """Why the volunteer cannot be reported back on `returned_on`: before the mission's last day."""
    if mission.last_day is not None and returned_on < mission.last_day:
        return f"the return is before the mission's last day, {mission.last_day}"
    return None


MISSION_RULES = (civic_training, civic_training_in_time, extension, early_end, mission_end, homecoming)
