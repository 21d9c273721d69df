"""Why a case was refused, cancelled or ended, as it crosses a service boundary: a code from one closed
vocabulary, never a person's own words or values (docs/privacy.md, 'Minimal data').

A reason on an events topic (`VettingRefused.reasons`, `ApplicationWithdrawn.reason`,
`PlacementCancelled.reason`, `PlacementClosed.reason`, `DepartureCancelled.reason`,
`MissionEndingEarly.reason`, `MissionEnded.reason`) is one of `REASON_CODES`: a word of `ReasonCode`, or a
word and a qualifier from a contract's enumeration (`check-failed:medical`). The service that decides keeps
its detail (an age, a nationality, a volunteer's own words) to itself, or does not keep it at all. The
vocabulary may grow within a contract version: a reader shows a code it does not know as it is.
`TransitionRefused.reason` is not a code: it names the rule a fact broke, never a value of a person.
"""

from __future__ import annotations

import functools
import typing
from enum import StrEnum

from shared.contracts.departure import EarlyEndReason, RepatriationCause
from shared.contracts.envelope import Event
from shared.contracts.types import CodedReason, CodedReasons
from shared.contracts.vetting import Check


class ReasonCode(StrEnum):
    """The unqualified reason codes, by the service that states them."""

    # application, departure, placement: the volunteer withdrew (their own words stay on the intake topic)
    VOLUNTEER_WITHDREW = "volunteer-withdrew"
    # vetting: eligibility (services/vetting/rules.py; docs/domain.md, 'Programmes')
    TOO_YOUNG = "too-young"  # below the scheme's age on every day the contract could be signed
    TOO_OLD = "too-old"  # above it on every such day
    HOST_COUNTRY_NATIONAL = "host-country-national"  # a mission abroad in a country of their nationality
    HOST_COUNTRY_RESIDENT = "host-country-resident"  # VSI in the country they live in
    MISSION_IN_EEA = "mission-in-eea"  # VSI inside the European Economic Area
    VSI_TIME_USED_UP = "vsi-time-used-up"  # no month left of the VSI lifetime cap
    AVAILABILITY_TOO_SHORT = "availability-too-short"  # shorter than the scheme's shortest mission
    NATIONALITY_NOT_ELIGIBLE = "nationality-not-eligible"  # service civique: no EU/EEA tie or permit
    FROM_EEA_OR_SWITZERLAND = "from-eea-or-switzerland"  # reciprocity is for volunteers from elsewhere
    NOT_A_PARTNER_COUNTRY = "not-a-partner-country"  # reciprocity: their country hosts no French volunteer
    MISSION_NOT_IN_FRANCE = "mission-not-in-france"  # reciprocity brings volunteers to France
    # placement
    DECLINED_BY_VOLUNTEER = "declined-by-volunteer"
    DECLINED_BY_HOST = "declined-by-host"
    VETTING_REFUSED = "vetting-refused"
    DEPARTURE_CANCELLED = "departure-cancelled"  # why, departure's own topic says (operators only)
    # departure
    VISA_REFUSED = "visa-refused"
    MEDICALLY_UNFIT = "medically-unfit"
    COMPLETED = "completed"  # a mission that reached its last day


def check_failed(check: Check) -> str:
    """A screening check came back failed."""
    return f"check-failed:{check}"


def check_expires_early(check: Check) -> str:
    """A passed check expires before the mission could start."""
    return f"check-expires-early:{check}"


def check_pending(check: Check) -> str:
    """A check was still pending when the screening deadline passed."""
    return f"check-pending:{check}"


def early_end(ground: EarlyEndReason) -> str:
    """A mission ends early on this ground."""
    return f"early-end:{ground}"


def repatriation(cause: RepatriationCause) -> str:
    """The agency brought the volunteer home for this cause."""
    return f"repatriation:{cause}"


REASON_CODES = frozenset(
    {
        *ReasonCode,
        *(code(check) for code in (check_failed, check_expires_early, check_pending) for check in Check),
        *(early_end(ground) for ground in EarlyEndReason),
        *(repatriation(cause) for cause in RepatriationCause),
    }
)


def stated_reasons(event: Event) -> tuple[str, ...]:
    """The reasons `event` states that must be codes: its fields typed `CodedReason` or `CodedReasons`."""
    found: list[str] = []
    for name in _coded_fields(type(event)):
        value = getattr(event, name)
        found += [value] if isinstance(value, str) else value
    return tuple(found)


@functools.cache
def _coded_fields(kind: type[Event]) -> tuple[str, ...]:
    hints = typing.get_type_hints(kind, include_extras=True)
    return tuple(name for name, hint in hints.items() if hint in (CodedReason, CodedReasons))
