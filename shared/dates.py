"""Calendar arithmetic the eligibility rules need: whole months and ages. Pure."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day `months` later, clamped to the end of a shorter month."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return day.replace(year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1]))


def months_between(start: dt.date, end: dt.date) -> int:
    """Return the whole months from `start` to `end` (end excluded); 0 when end is not after start."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and add_months(start, months) > end:
        months -= 1
    return max(months, 0)


def age_at(birth_date: dt.date, day: dt.date) -> int:
    """Return the age in whole years on `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
