"""One example of every event of every topic, built from a table of sample values by field name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from shared import samples
from shared.contracts.application import ApplicationReceived, ApplicationSubmitted, WithdrawalRequested
from shared.contracts.codec import UNION_OF_TOPIC, events_of
from shared.contracts.departure import EarlyEndReason, HostReport, InterviewStage, Item, RepatriationCause
from shared.contracts.envelope import Event, caused_by
from shared.contracts.partner import MissionStage
from shared.contracts.placement import Chooser, Opening, Party
from shared.contracts.topics import Topic
from shared.contracts.types import Scheme
from shared.contracts.vetting import Check

OPENING = Opening(
    opening_id="open-1",
    host_organisation="Bosques de San Martín",
    mission="Conservation through education",
    country="PE",
    region="San Martín",
    scheme=Scheme.SERVICE_CIVIQUE,
    seats=2,
    start_date=dt.date(2026, 9, 1),
    duration_months=12,
    published_on=dt.date(2026, 3, 1),
    hours_per_week=35,
)

VALUES: dict[str, Any] = {
    "application_id": "app-1",
    "volunteer_id": "vol-1",
    "placement_id": "pl-1",
    "opening_id": "open-1",
    "reason": "a reason",
    "reasons": ("a reason",),
    "volunteer": samples.volunteer(),
    "wishes": samples.wishes(),
    "opening": OPENING,
    "check": Check.MEDICAL,
    "passed": True,
    "valid_until": dt.date(2027, 12, 31),
    "party": Party.HOST,
    "accepted": True,
    "host_organisation": OPENING.host_organisation,
    "mission": OPENING.mission,
    "country": "PE",
    "region": "San Martín",
    "scheme": Scheme.SERVICE_CIVIQUE,
    "start_date": dt.date(2026, 9, 1),
    "end_date": dt.date(2027, 8, 31),
    "refused_event_id": "evt-1",
    "refused_event_type": "WithdrawalRequested",
    "status": "proposed",
    "fit": True,
    "expires_on": dt.date(2030, 1, 1),
    "granted": True,
    "departure_date": dt.date(2026, 8, 30),
    "item": Item.VISA,
    "volunteer_ref": "vol-0123456789abcdef",
    "event_id": "evt-0",
    "in_time": True,
    "stage": InterviewStage.START,
    "last_day": dt.date(2027, 8, 31),
    "early": False,
    "ground": EarlyEndReason.HOST_DECISION,
    "cause": RepatriationCause.SECURITY,
    "ended_on": dt.date(2027, 8, 31),
    "returned_on": dt.date(2027, 9, 2),
    "by": Chooser.HOST,
    "agreed": True,
    "report": HostReport.ARRIVED,
}


VALUES_OF: dict[str, dict[str, Any]] = {  # where a field's name means another thing
    "MissionUpdated": {"stage": MissionStage.ENDED},
}


def example(cls: type[Event]) -> Event:
    """Return an event of `cls` with every required field from VALUES (VALUES_OF, for its own)."""
    values = {**VALUES, **VALUES_OF.get(cls.__name__, {})}
    required = {
        f.name: values[f.name] for f in msgspec.structs.fields(cls) if f.required and f.name in values
    }
    return cls(subject_id="vol-1", producer="tests", **required)


EXAMPLES: list[tuple[Topic, Event]] = [
    (topic, example(cls)) for topic in UNION_OF_TOPIC for cls in events_of(topic)
]


def fact(event_id: str, subject_id: str = "vol-1") -> Event:
    """An outside fact known by its id alone, for tests of applying events once."""
    return WithdrawalRequested(
        subject_id=subject_id, producer="portal", event_id=event_id, application_id="app-1", reason="r"
    )


def received(application: ApplicationSubmitted) -> ApplicationReceived:
    """The application service's announcement of a sound application."""
    return ApplicationReceived(
        **caused_by(application, "application"),
        application_id=application.application_id,
        volunteer=application.volunteer,
        wishes=application.wishes,
    )
