"""Who may state what: each intake topic's one source, the facts it may state, and how a fact binds to it.

The broker authenticates every client and lets a source's principal write only its own intake topics
(`shared.grants`), so the topic a fact came from names its sender. Everything the sender asserts about
itself is then checked against that, never trusted: its `producer` is set from the topic, a fact type
another source states is refused, a host cannot answer as the volunteer, and `subject_id` must be the
Kafka key and the volunteer or opening the fact names. A sender's `event_id` is required (stable across its
retries) and counts per sender (`Event.identity`), so one sender's id never pre-empts another's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from shared.contracts import application as app
from shared.contracts import departure as dep
from shared.contracts.envelope import Event
from shared.contracts.placement import (
    CandidateSelected,
    HostingApproved,
    OpeningPublished,
    Party,
    PlacementAnswered,
)
from shared.contracts.topics import WRITER_OF_EVENTS, Topic
from shared.contracts.vetting import ScreeningDeadlinePassed, ScreeningReported


class Source(StrEnum):
    """The outside parties that state facts, each a principal of its own on the broker."""

    PORTAL = "portal"  # the agency's portal, for the volunteers
    SCREENING = "screening"  # the screening providers
    HOST = "host"  # the host organisations
    AGENCY = "agency"  # the agency's own teams: training, medical officer, insurance, approvals
    VISA_AGENT = "visa-agent"
    TRAVEL_AGENT = "travel-agent"


class Intake(NamedTuple):
    """One intake topic: the service that consumes it, its one source, what that source may state there."""

    service: str
    source: Source
    facts: tuple[type[Event], ...]
    party: Party | None = None  # the only party a fact with a `party` (an answer, an early end) may speak for


INTAKE_OF_TOPIC: dict[Topic, Intake] = {
    Topic.APPLICATION_INTAKE: Intake(
        "application", Source.PORTAL, (app.ApplicationSubmitted, app.WithdrawalRequested)
    ),
    Topic.APPLICATION_INTAKE_AGENCY: Intake("application", Source.AGENCY, (app.ErasureRequested,)),
    Topic.VETTING_INTAKE: Intake("vetting", Source.SCREENING, (ScreeningReported, ScreeningDeadlinePassed)),
    Topic.PLACEMENT_INTAKE: Intake(
        "placement", Source.HOST, (OpeningPublished, PlacementAnswered, CandidateSelected), Party.HOST
    ),
    Topic.PLACEMENT_INTAKE_PORTAL: Intake("placement", Source.PORTAL, (PlacementAnswered,), Party.VOLUNTEER),
    Topic.PLACEMENT_INTAKE_AGENCY: Intake("placement", Source.AGENCY, (HostingApproved,)),
    Topic.DEPARTURE_INTAKE: Intake(
        "departure",
        Source.AGENCY,
        (
            dep.TrainingCompleted,
            dep.MedicalReported,
            dep.InsuranceSubscribed,
            dep.SecurityBriefingAttended,
            dep.CivicTrainingAttended,
            dep.InterviewHeld,
            dep.RepatriationOrdered,
        ),
    ),
    Topic.DEPARTURE_INTAKE_VISA: Intake(
        "departure", Source.VISA_AGENT, (dep.PassportChecked, dep.VisaDecided)
    ),
    Topic.DEPARTURE_INTAKE_TRAVEL: Intake(
        "departure", Source.TRAVEL_AGENT, (dep.TravelBooked, dep.DepartureTaken, dep.ReturnReported)
    ),
    Topic.DEPARTURE_INTAKE_HOST: Intake(
        "departure",
        Source.HOST,
        (dep.ArrivalReported, dep.ExtensionAgreed, dep.EarlyEndNotified, dep.MissionEndReported),
        Party.HOST,
    ),
    Topic.DEPARTURE_INTAKE_PORTAL: Intake(
        "departure",
        Source.PORTAL,
        (dep.ConsularRegistrationDone, dep.EarlyEndNotified, dep.MissionReportSubmitted),
        Party.VOLUNTEER,
    ),
}


def intakes_of(service: str) -> tuple[Topic, ...]:
    """The intake topics a service consumes."""
    return tuple(topic for topic, intake in INTAKE_OF_TOPIC.items() if intake.service == service)


_TOPIC_OF_FACT = {  # (fact type, the party it speaks for if it has one) -> its one intake topic
    (fact, intake.party if "party" in fact.__struct_fields__ else None): topic
    for topic, intake in INTAKE_OF_TOPIC.items()
    for fact in intake.facts
}


def intake_of(fact: Event) -> Topic:
    """The one intake topic on which a fact may be stated (a placement answer: by the party it speaks for)."""
    topic = _TOPIC_OF_FACT.get((type(fact), getattr(fact, "party", None)))
    if topic is None:
        raise ValueError(f"{fact.event_type} is stated on no intake topic")
    return topic


def writer_of(topic: str) -> str | None:
    """The one principal that writes a topic: an intake's source, an event topic's service."""
    intake = INTAKE_OF_TOPIC.get(topic)  # type: ignore[call-overload]
    if intake is not None:
        return str(intake.source)
    writer: str | None = WRITER_OF_EVENTS.get(topic)
    return writer


def named_subject(fact: Event) -> str | None:
    """The volunteer or opening an outside fact is about, when the fact itself names it."""
    if isinstance(fact, app.ApplicationSubmitted):
        return fact.volunteer.volunteer_id
    if isinstance(fact, app.ErasureRequested):
        return fact.volunteer_id
    if isinstance(fact, OpeningPublished):
        return fact.opening.opening_id
    if isinstance(fact, HostingApproved):
        return fact.opening_id
    return None


def refusal(topic: str, key: bytes | None, fact: Event) -> str | None:
    """Why an intake topic's fact does not bind to its sender, or None if it does."""
    intake = INTAKE_OF_TOPIC.get(topic)  # type: ignore[call-overload]
    if intake is None:
        return None
    if intake.party is not None and getattr(fact, "party", intake.party) != intake.party:
        return f"the {intake.source} may speak only as party {intake.party}"
    if key != fact.subject_id.encode():
        return "the Kafka key is not the subject_id"
    named = named_subject(fact)
    if named is not None and named != fact.subject_id:
        what = "opening" if isinstance(fact, OpeningPublished | HostingApproved) else "volunteer"
        return f"subject_id is not the {what} id"
    return None
