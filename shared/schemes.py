"""The schemes' numeric limits, in one place for the services that apply them (docs/domain.md, 'Programmes'):
vetting on the volunteer, placement on the host's opening."""

from __future__ import annotations

VSI_MIN_AGE = 18
VSI_MIN_MONTHS = 1  # the law sets no minimum
VSI_MAX_MONTHS = 24  # one contract
VSI_LIFETIME_MONTHS = 72  # over a life, across associations
CIVIC_MIN_AGE, CIVIC_MIN_AGE_AT_HOME = 18, 16  # abroad; in France
CIVIC_MAX_AGE, CIVIC_MAX_AGE_WITH_DISABILITY = 25, 30
CIVIC_MIN_MONTHS, CIVIC_MAX_MONTHS = 6, 12  # service civique, and reciprocity volunteers under it
CIVIC_MIN_HOURS_PER_WEEK = 24
