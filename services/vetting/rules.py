"""Eligibility rules of each scheme (docs/domain.md, 'Programmes'), as pure functions of a candidate.

Every rule returns None when it holds, or the code of the rule it breaks (shared/contracts/reasons.py): the
event names the rule, never the age, nationality or country that broke it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec

from shared.contracts.application import Volunteer, Wishes
from shared.contracts.reasons import ReasonCode
from shared.contracts.types import Scheme
from shared.contracts.vetting import MissionLimits
from shared.dates import add_months, age_at, months_between
from shared.schemes import (
    CIVIC_MAX_AGE,
    CIVIC_MAX_AGE_WITH_DISABILITY,
    CIVIC_MAX_MONTHS,
    CIVIC_MIN_AGE,
    CIVIC_MIN_AGE_AT_HOME,
    CIVIC_MIN_MONTHS,
    VSI_LIFETIME_MONTHS,
    VSI_MAX_MONTHS,
    VSI_MIN_AGE,
    VSI_MIN_MONTHS,
)

# The 27 member states of the European Union (ISO 3166-1 alpha-2; Greece is GR).
EU = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip
# The European Economic Area: the EU plus Iceland, Liechtenstein and Norway.
EEA = EU | {"IS", "LI", "NO"}
SWITZERLAND = "CH"
FRANCE = "FR"
# The countries that host the agency's French volunteers and send theirs in return (docs/domain.md, 'The
# demo's missions': the Peru-France Volontaires agreement in force since 11 February 2026).
RECIPROCITY_PARTNERS = frozenset({"PE"})


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """What vetting keeps of a volunteer and their wishes: no name, e-mail or phone."""

    birth_date: dt.date
    nationality: str
    residence_country: str
    residence_permit_months: int = 0
    student: bool = False
    refugee: bool = False
    disability: bool = False
    prior_vsi_months: int = 0
    scheme: Scheme
    mission_country: str
    available_from: dt.date  # the planned start: contract signature
    available_until: dt.date  # the last day of the mission, inclusive

    @classmethod
    def of(cls, volunteer: Volunteer, wishes: Wishes) -> Candidate:
        """Keep only what the eligibility rules read."""
        return cls(
            birth_date=volunteer.birth_date,
            nationality=volunteer.nationality,
            residence_country=volunteer.residence_country,
            residence_permit_months=volunteer.residence_permit_months,
            student=volunteer.student,
            refugee=volunteer.refugee,
            disability=volunteer.disability,
            prior_vsi_months=volunteer.prior_vsi_months,
            scheme=wishes.scheme,
            mission_country=wishes.country,
            available_from=wishes.available_from,
            available_until=wishes.available_until,
        )


def whole_months(candidate: Candidate) -> int:
    """Return the availability's whole months: the shortest mission must fit in them."""
    return months_between(candidate.available_from, candidate.available_until + dt.timedelta(days=1))


def birthday(birth_date: dt.date, age: int) -> dt.date:
    """Return the first day on which someone born on `birth_date` is `age` years old (`age_at`): the
    birthday, or 1 March for someone born on 29 February when the year is not a leap year."""
    day = add_months(birth_date, 12 * age)  # 28 February for a 29 February birth date in a common year
    return day if age_at(birth_date, day) >= age else day + dt.timedelta(1)


def mission_limits(c: Candidate) -> MissionLimits:
    """What a mission must respect for this candidate: the age bounds as start dates (the contract is
    signed on the mission's first day), and the scheme's durations, VSI time already served deducted
    (docs/domain.md, 'Programmes' and the rules common to all schemes)."""
    if c.scheme is Scheme.VSI:
        return MissionLimits(
            earliest_start=birthday(c.birth_date, VSI_MIN_AGE),
            min_months=VSI_MIN_MONTHS,
            max_months=min(VSI_MAX_MONTHS, VSI_LIFETIME_MONTHS - c.prior_vsi_months),
        )
    minimum = CIVIC_MIN_AGE_AT_HOME if c.mission_country == FRANCE else CIVIC_MIN_AGE
    maximum = CIVIC_MAX_AGE_WITH_DISABILITY if c.disability else CIVIC_MAX_AGE
    return MissionLimits(
        earliest_start=birthday(c.birth_date, minimum),
        latest_start=birthday(c.birth_date, maximum + 1) - dt.timedelta(1),
        min_months=CIVIC_MIN_MONTHS,
        max_months=CIVIC_MAX_MONTHS,
    )


def latest_start(c: Candidate, limits: MissionLimits) -> dt.date:
    """The last start within the availability that leaves room for the scheme's shortest mission."""
    return add_months(c.available_until + dt.timedelta(1), -limits.min_months)


def can_start(c: Candidate, limits: MissionLimits) -> bool:
    """Whether some day within the availability finds the candidate at an age to sign the contract."""
    last = latest_start(c, limits)
    if limits.latest_start is not None:
        last = min(last, limits.latest_start)
    return max(c.available_from, limits.earliest_start) <= last


Rule = Callable[[Candidate], ReasonCode | None]


def own_country(c: Candidate) -> ReasonCode | None:
    """Every scheme, for a mission abroad: nationals of the host country are not eligible there. A mission
    in France is the volunteer's home mission (service civique from 16), not a mission in their own country
    abroad (docs/domain.md, 'Programmes', rules common to all schemes)."""
    if c.mission_country != FRANCE and c.nationality == c.mission_country:
        return ReasonCode.HOST_COUNTRY_NATIONAL
    return None


def vsi_age(c: Candidate) -> ReasonCode | None:
    """VSI: adults only, no upper limit, on the day the contract is signed (law 2005-159, art. 1,
    docs/domain.md): some start within the availability must find the volunteer 18."""
    return None if can_start(c, mission_limits(c)) else ReasonCode.TOO_YOUNG


def vsi_residence(c: Candidate) -> ReasonCode | None:
    """VSI: never in a country of which the volunteer is a regular resident (the law sets no nationality
    condition; France Volontaires: not in a country of nationality or regular residence; docs/domain.md)."""
    if c.residence_country == c.mission_country:
        return ReasonCode.HOST_COUNTRY_RESIDENT
    return None


def vsi_destination(c: Candidate) -> ReasonCode | None:
    """VSI: missions outside the European Union and the European Economic Area (docs/domain.md)."""
    return ReasonCode.MISSION_IN_EEA if c.mission_country in EEA else None


def vsi_duration(c: Candidate) -> ReasonCode | None:
    """VSI: one contract lasts at most 2 years, 6 years at most over a life, across associations (law
    2005-159, art. 4, docs/domain.md): time must be left, and the mission's own length is checked against
    it when one is offered (`mission_limits`, in placement)."""
    if c.prior_vsi_months >= VSI_LIFETIME_MONTHS:
        return ReasonCode.VSI_TIME_USED_UP
    return None


def civic_age(c: Candidate) -> ReasonCode | None:
    """Service civique: 18-25 abroad, from 16 in France, up to 30 with a disability, on the day the contract
    is signed (docs/domain.md): some start within the availability must find the volunteer within them.
    Reciprocity volunteers follow the same bounds (with that scheme's age and duration rules)."""
    limits = mission_limits(c)
    if can_start(c, limits):
        return None
    if limits.latest_start is not None and c.available_from > limits.latest_start:
        return ReasonCode.TOO_OLD
    return ReasonCode.TOO_YOUNG


def civic_duration(c: Candidate) -> ReasonCode | None:
    """Service civique (docs/domain.md, 'Programmes'): missions of 6 to 12 months, so the availability must
    hold 6; the mission's own length is checked when one is offered (placement); reciprocity the same."""
    if whole_months(c) < CIVIC_MIN_MONTHS:
        return ReasonCode.AVAILABILITY_TOO_SHORT
    return None


def civic_nationality(c: Candidate) -> ReasonCode | None:
    """Service civique: EU/EEA nationals, permits over 1 year, students, refugees (docs/domain.md)."""
    if c.nationality in EEA or c.residence_permit_months > 12 or c.student or c.refugee:
        return None
    return ReasonCode.NATIONALITY_NOT_ELIGIBLE


def reciprocity_origin(c: Candidate) -> ReasonCode | None:
    """Reciprocity (docs/domain.md, 'Programmes'): only from countries outside the EEA and Switzerland."""
    if c.nationality in EEA or c.nationality == SWITZERLAND:
        return ReasonCode.FROM_EEA_OR_SWITZERLAND
    return None


def reciprocity_partner(c: Candidate) -> ReasonCode | None:
    """Reciprocity (docs/domain.md, 'Programmes'): only from a country that itself hosts French volunteers,
    here the agency's partner countries (`RECIPROCITY_PARTNERS`)."""
    return ReasonCode.NOT_A_PARTNER_COUNTRY if c.nationality not in RECIPROCITY_PARTNERS else None


def reciprocity_destination(c: Candidate) -> ReasonCode | None:
    """Reciprocity (docs/domain.md, 'Programmes'): partner-country nationals come to France."""
    if c.mission_country != FRANCE:
        return ReasonCode.MISSION_NOT_IN_FRANCE
    return None


RULES: dict[Scheme, tuple[Rule, ...]] = {
    Scheme.VSI: (vsi_age, vsi_destination, vsi_duration, own_country, vsi_residence),
    Scheme.SERVICE_CIVIQUE: (civic_age, civic_nationality, civic_duration, own_country),
    Scheme.RECIPROCITY: (
        reciprocity_origin,
        reciprocity_partner,
        reciprocity_destination,
        civic_age,
        civic_duration,
        own_country,
    ),
}


def ineligibility(candidate: Candidate) -> list[ReasonCode]:
    """Return why the candidate is not eligible for their scheme (empty when eligible)."""
    return [reason for rule in RULES[candidate.scheme] if (reason := rule(candidate))]
