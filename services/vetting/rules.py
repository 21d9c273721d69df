"""Eligibility rules of each scheme (docs/domain.md, 'Programmes'), as pure functions of a candidate.

Every rule returns None when it holds, or a reason that names the scheme and the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec

from services.vetting.dates import add_months, age_at, months_between
from shared.contracts.application import Volunteer, Wishes
from shared.contracts.types import Scheme

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
NAMES = {Scheme.VSI: "vsi", Scheme.SERVICE_CIVIQUE: "service civique", Scheme.RECIPROCITY: "reciprocity"}


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
    """Return the mission's whole months: the lower bounds of duration are checked on this."""
    return months_between(candidate.available_from, candidate.available_until + dt.timedelta(days=1))


def started_months(candidate: Candidate) -> int:
    """Return the mission's months, a started month counting: upper bounds are checked on this."""
    end = candidate.available_until + dt.timedelta(days=1)
    months = whole_months(candidate)
    return months + (add_months(candidate.available_from, months) < end)


Rule = Callable[[Candidate], str | None]


def own_country(c: Candidate) -> str | None:
    """Every scheme, for a mission abroad: nationals of the host country are not eligible there. A mission
    in France is the volunteer's home mission (service civique from 16), not a mission in their own country
    abroad (docs/domain.md, 'Programmes', rules common to all schemes)."""
    if c.mission_country != FRANCE and c.nationality == c.mission_country:
        return f"{NAMES[c.scheme]}: nationals of the host country ({c.nationality}) cannot serve there"
    return None


def vsi_age(c: Candidate) -> str | None:
    """VSI: adults only, no upper limit; age at the planned start (law 2005-159, docs/domain.md)."""
    age = age_at(c.birth_date, c.available_from)
    return f"vsi: age {age} at start is below 18" if age < 18 else None


def vsi_residence(c: Candidate) -> str | None:
    """VSI: never in a country of which the volunteer is a regular resident (the law sets no nationality
    condition; France Volontaires: not in a country of nationality or regular residence; docs/domain.md)."""
    if c.residence_country == c.mission_country:
        return f"vsi: residents of the host country ({c.residence_country}) cannot serve there"
    return None


def vsi_destination(c: Candidate) -> str | None:
    """VSI: missions outside the European Union and the European Economic Area (docs/domain.md)."""
    return f"vsi: mission country {c.mission_country} is in the EEA" if c.mission_country in EEA else None


def vsi_contract(c: Candidate) -> str | None:
    """VSI: one contract lasts at most 2 years (law 2005-159, docs/domain.md, 'Programmes')."""
    months = started_months(c)
    return f"vsi: contract of {months} months exceeds 24" if months > 24 else None


def vsi_cumulated(c: Candidate) -> str | None:
    """VSI: at most 6 years cumulated over a life, across associations (docs/domain.md, 'Programmes')."""
    total = c.prior_vsi_months + started_months(c)
    return f"vsi: cumulated VSI time {total} months exceeds 72" if total > 72 else None


def civic_age(c: Candidate) -> str | None:
    """Service civique: 18-25 abroad, 16 minimum in France, up to 30 with a disability (docs/domain.md).

    Reciprocity volunteers follow the same bounds (docs/domain.md: with that scheme's age and duration rules).
    """
    age, name = age_at(c.birth_date, c.available_from), NAMES[c.scheme]
    minimum = 16 if c.mission_country == FRANCE else 18
    maximum = 30 if c.disability else 25
    if age < minimum:
        return f"{name}: age {age} at start is below {minimum}"
    if age > maximum:
        return f"{name}: age {age} at start is above {maximum}"
    return None


def civic_duration(c: Candidate) -> str | None:
    """Service civique (docs/domain.md, 'Programmes'): a contract of 6 to 12 months; reciprocity the same."""
    name = NAMES[c.scheme]
    if whole_months(c) < 6:
        return f"{name}: duration of {whole_months(c)} months is below 6"
    if started_months(c) > 12:
        return f"{name}: duration of {started_months(c)} months is above 12"
    return None


def civic_nationality(c: Candidate) -> str | None:
    """Service civique: EU/EEA nationals, permits over 1 year, students, refugees (docs/domain.md)."""
    if c.nationality in EEA or c.residence_permit_months > 12 or c.student or c.refugee:
        return None
    return "service civique: needs French, EU or EEA nationality, or a residence permit over 12 months"


def reciprocity_origin(c: Candidate) -> str | None:
    """Reciprocity (docs/domain.md, 'Programmes'): only from countries outside the EEA and Switzerland."""
    if c.nationality in EEA or c.nationality == SWITZERLAND:
        return "reciprocity: only from countries outside the EEA and Switzerland"
    return None


def reciprocity_destination(c: Candidate) -> str | None:
    """Reciprocity (docs/domain.md, 'Programmes'): partner-country nationals come to France."""
    if c.mission_country != FRANCE:
        return f"reciprocity: mission country must be FR, not {c.mission_country}"
    return None


RULES: dict[Scheme, tuple[Rule, ...]] = {
    Scheme.VSI: (vsi_age, vsi_destination, vsi_contract, vsi_cumulated, own_country, vsi_residence),
    Scheme.SERVICE_CIVIQUE: (civic_age, civic_nationality, civic_duration, own_country),
    Scheme.RECIPROCITY: (reciprocity_origin, reciprocity_destination, civic_age, civic_duration, own_country),
}


def ineligibility(candidate: Candidate) -> list[str]:
    """Return why the candidate is not eligible for their scheme (empty when eligible)."""
    return [reason for rule in RULES[candidate.scheme] if (reason := rule(candidate))]
