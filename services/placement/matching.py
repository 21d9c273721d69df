"""The pure matching rules: which openings suit a cleared volunteer, best first. No I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from shared.contracts.application import Wishes
from shared.contracts.placement import Opening
from shared.contracts.vetting import MissionLimits
from shared.dates import add_months

# docs/domain.md, 'Programmes': a mission offer stays published at least 15 days.
HOME = "FR"  # the sending country: a mission here is a home mission
MIN_PUBLISHED_DAYS = 15


def end_date(opening: Opening) -> dt.date:
    """Return the last day of the mission: start plus its duration in calendar months, inclusive."""
    return max(opening.start_date, add_months(opening.start_date, opening.duration_months) - dt.timedelta(1))


def mismatches(
    opening: Opening,
    wishes: Wishes,
    nationality: str,
    excluded: Collection[str],
    on: dt.date,
    limits: MissionLimits | None = None,
) -> list[str]:
    """Return why `opening` does not suit the volunteer on day `on` (empty when it does); `limits` are the
    scheme's for this volunteer, from their clearance (`unlawful`)."""
    found = unlawful(opening, limits) if limits else []
    if opening.opening_id in excluded:
        found.append("already declined or cancelled")
    if opening.scheme != wishes.scheme:
        found.append("another scheme")
    if opening.country != wishes.country:
        found.append("another country")
    if wishes.region is not None and opening.region != wishes.region:
        found.append("another region")
    if not set(opening.required_skills) <= set(wishes.skills):
        found.append("missing skills")
    if not set(opening.required_languages) <= set(wishes.languages):
        found.append("missing languages")
    if opening.start_date < wishes.available_from:
        found.append("starts before the volunteer is available")
    if end_date(opening) > wishes.available_until:
        found.append("ends after the volunteer is available")
    # docs/domain.md, 'Programmes': nationals of the host country are not eligible there, on a mission
    # abroad (a mission in France is a home mission, open to French volunteers).
    if opening.country == nationality and opening.country != HOME:
        found.append("nationals are not eligible in their own country")
    if (on - opening.published_on).days < MIN_PUBLISHED_DAYS:
        found.append(f"published less than {MIN_PUBLISHED_DAYS} days ago")
    return found


def unlawful(opening: Opening, limits: MissionLimits) -> list[str]:
    """Why the opening's mission would break the volunteer's scheme: the age on the day the contract is
    signed (the mission's start), the mission's length (docs/domain.md, rules common to all schemes)."""
    found = []
    if opening.start_date < limits.earliest_start:
        found.append("starts before the volunteer reaches the scheme's minimum age")
    if limits.latest_start is not None and opening.start_date > limits.latest_start:
        found.append("starts after the volunteer passes the scheme's maximum age")
    if opening.duration_months < limits.min_months:
        found.append(f"shorter than the scheme's {limits.min_months} months")
    if opening.duration_months > limits.max_months:
        found.append("longer than the scheme allows the volunteer")  # no value of theirs
    if limits.checks_valid_until is not None and opening.start_date > limits.checks_valid_until:
        found.append("starts after the volunteer's screening checks expire")
    return found


def ranked(
    openings: Iterable[Opening],
    wishes: Wishes,
    nationality: str,
    excluded: Collection[str],
    on: dt.date,
    limits: MissionLimits | None = None,
) -> list[Opening]:
    """Return the openings automatic matching may propose to the volunteer, earliest start first, then by
    opening id: those that suit them, except the openings whose host selects its candidates."""
    suitable = [
        o
        for o in openings
        if not o.selected_by_host and not mismatches(o, wishes, nationality, excluded, on, limits)
    ]
    return sorted(suitable, key=lambda o: (o.start_date, o.opening_id))
