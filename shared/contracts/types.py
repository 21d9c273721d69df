"""Bounded field types shared by every contract: no field is unbounded."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from msgspec import Meta

Id = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", description="Opaque identifier")]
Name = Annotated[str, Meta(min_length=1, max_length=100)]
Title = Annotated[str, Meta(min_length=1, max_length=200)]
Reason = Annotated[str, Meta(min_length=1, max_length=300)]
CodedReason = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=300,
        description="A reason code (docs/contracts.md, 'Reason codes'), never a person's words or values",
    ),
]
Producer = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
CountryCode = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
LanguageCode = Annotated[str, Meta(pattern=r"^[a-z]{2}$", description="ISO 639-1")]
Skill = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
Email = Annotated[str, Meta(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$", max_length=254)]
Phone = Annotated[str, Meta(pattern=r"^\+?[0-9 ]{6,20}$")]
Months = Annotated[int, Meta(ge=0, le=600)]
HoursPerWeek = Annotated[int, Meta(ge=1, le=168)]
Seats = Annotated[int, Meta(ge=1, le=500)]
SchemaVersion = Annotated[int, Meta(ge=1, le=1000)]

Skills = Annotated[tuple[Skill, ...], Meta(max_length=20)]
Languages = Annotated[tuple[LanguageCode, ...], Meta(max_length=10)]
Reasons = Annotated[tuple[Reason, ...], Meta(min_length=1, max_length=20)]
CodedReasons = Annotated[tuple[CodedReason, ...], Meta(min_length=1, max_length=20)]

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
EARLIEST_INSTANT = dt.datetime.combine(EARLIEST_DATE, dt.time(), dt.UTC)
LATEST_INSTANT = dt.datetime.combine(LATEST_DATE, dt.time.max, dt.UTC)
Instant = Annotated[
    dt.datetime,
    Meta(tz=True, description=f"A moment with its time zone, from {EARLIEST_DATE} to {LATEST_DATE} (UTC)"),
]


class Scheme(StrEnum):
    """The volunteering programmes (docs/domain.md, 'Programmes')."""

    VSI = "vsi"
    SERVICE_CIVIQUE = "service-civique"
    RECIPROCITY = "reciprocity"


def check_dates(*dates: dt.date | None) -> None:
    """Refuse a date outside the range any real mission can have."""
    for date in dates:
        if date is not None and not EARLIEST_DATE <= date <= LATEST_DATE:
            raise ValueError(f"date out of range {EARLIEST_DATE}..{LATEST_DATE}")


def check_instants(*instants: dt.datetime | None) -> None:
    """Refuse a moment without a time zone, or outside the range of the dates."""
    for instant in instants:
        if instant is None:
            continue
        if instant.utcoffset() is None:
            raise ValueError("a moment needs a time zone")
        if not EARLIEST_INSTANT <= instant <= LATEST_INSTANT:
            raise ValueError(f"moment out of range {EARLIEST_DATE}..{LATEST_DATE}")
