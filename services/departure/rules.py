"""The pre-departure checklist and its rules, as pure values and functions. No I/O.

docs/domain.md, 'The lifecycle' 4."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

import msgspec
from msgspec.structs import replace

from shared.contracts.departure import (
    ConsularRegistrationDone,
    DepartureFact,
    InsuranceSubscribed,
    Item,
    MedicalReported,
    PassportChecked,
    SecurityBriefingAttended,
    TrainingCompleted,
    TravelBooked,
    VisaDecided,
)
from shared.contracts.envelope import Event

# docs/domain.md, 'The lifecycle' 4: a passport valid at least 6 months after the planned return.
PASSPORT_MARGIN_MONTHS = 6
PASSPORT_TOO_SHORT = "passport expires less than 6 months after the planned return"
# docs/domain.md, 'The lifecycle' 4: a refused visa or a failed medical cancels the departure; 1: a
# volunteer may withdraw.
VISA_REFUSED = "visa refused"
MEDICAL_FAILED = "medical check failed"
WITHDRAWN = "withdrawn by the volunteer"
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


def add_months(day: dt.date, months: int) -> dt.date:
    """Return `day` moved by calendar months, clamped to the month's end (31 August + 6 = 28/29 February)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last_day))


def passport_valid(expires_on: dt.date, planned_return: dt.date) -> bool:
    """Tell whether the passport is still valid 6 calendar months after the planned return."""
    return expires_on >= add_months(planned_return, PASSPORT_MARGIN_MONTHS)


def failure(fact: Event) -> str | None:
    """Return why `fact` cancels the departure (refused visa, failed medical), or None."""
    if isinstance(fact, VisaDecided) and not fact.granted:
        return VISA_REFUSED
    if isinstance(fact, MedicalReported) and not fact.fit:
        return MEDICAL_FAILED
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
            return replace(opened, done=in_order((*opened.done, Item.PASSPORT))), None
        return opened, passport.event_id
