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
from shared.contracts.partners import PARTNERS, partner_of, principal_of
from shared.contracts.placement import (
    ApplicantSelected,
    CandidateSelected,
    ChoiceApproved,
    HostingApproved,
    OfferApplied,
    OpeningPublished,
    Party,
    PlacementAnswered,
    ProposalAnswered,
)
from shared.contracts.topics import WRITER_OF_EVENTS, Topic, partner_intake
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
    source: str  # a Source, or a partner's principal (`partner-<id>`) on that partner's own intake topics
    facts: tuple[type[Event], ...]
    party: Party | None = None  # the only party a fact with a `party` (an answer, an early end) may speak for


SHARED_INTAKES: dict[str, Intake] = {
    Topic.APPLICATION_INTAKE: Intake(
        "application", Source.PORTAL, (app.ApplicationSubmitted, app.WithdrawalRequested)
    ),
    Topic.APPLICATION_INTAKE_AGENCY: Intake("application", Source.AGENCY, (app.ErasureRequested,)),
    Topic.VETTING_INTAKE: Intake("vetting", Source.SCREENING, (ScreeningReported, ScreeningDeadlinePassed)),
    Topic.PLACEMENT_INTAKE: Intake(
        "placement",
        Source.HOST,
        (OpeningPublished, PlacementAnswered, CandidateSelected, ApplicantSelected, ProposalAnswered),
        Party.HOST,
    ),
    Topic.PLACEMENT_INTAKE_PORTAL: Intake(
        "placement", Source.PORTAL, (PlacementAnswered, OfferApplied), Party.VOLUNTEER
    ),
    Topic.PLACEMENT_INTAKE_AGENCY: Intake("placement", Source.AGENCY, (HostingApproved, ChoiceApproved)),
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
        (
            dep.ArrivalReported,
            dep.ExtensionAgreed,
            dep.EarlyEndNotified,
            dep.MissionEndReported,
            dep.PlacementReported,
        ),
        Party.HOST,
    ),
    Topic.DEPARTURE_INTAKE_PORTAL: Intake(
        "departure",
        Source.PORTAL,
        (dep.ConsularRegistrationDone, dep.EarlyEndNotified, dep.MissionReportSubmitted),
        Party.VOLUNTEER,
    ),
}


# A host that is a partner (shared.contracts.partners) states its host facts on intake topics of its own,
# which only its principal writes; a host that is not one, on the shared host topics, as the one `host`
# principal (among them the topic cannot tell which host speaks).
SHARED_HOST_INTAKES = tuple(topic for topic, intake in SHARED_INTAKES.items() if intake.source == Source.HOST)
# Set once every host is onboarded as a partner, reviewed like code as the partners are: nobody may write
# the shared host topics any more (services/grants.py, and the Kubernetes users made from it), and no dead
# letter is replayed to them, so a host speaks only as itself.
SHARED_HOST_TOPICS_RETIRED = False


def retired_intakes() -> tuple[str, ...]:
    """The intake topics nobody may write any more: the shared host topics, once retired."""
    return SHARED_HOST_INTAKES if SHARED_HOST_TOPICS_RETIRED else ()


INTAKE_OF_TOPIC: dict[str, Intake] = SHARED_INTAKES | {
    partner_intake(intake.service, principal_of(partner)): intake._replace(source=principal_of(partner))
    for intake in (SHARED_INTAKES[topic] for topic in SHARED_HOST_INTAKES)
    for partner in PARTNERS
}
HOST_SENDERS = frozenset({Source.HOST.value, *(principal_of(partner) for partner in PARTNERS)})


def host_sender(organisation: str) -> str:
    """Who may state a host's facts: the partner's principal for a partner, else the shared `host`."""
    partner = partner_of(organisation)
    return principal_of(partner) if partner else Source.HOST.value


def not_the_host(sender: str, organisation: str) -> str | None:
    """Why a fact a host sent (`sender`, set from its intake topic) cannot speak for a placement or an
    opening of `organisation`: a partner speaks for its own alone, the shared `host` for no partner's."""
    expected = host_sender(organisation)
    if sender in HOST_SENDERS and sender != expected:
        return f"{sender} is not the host of this opening"  # which one is, not said: a partner reads it
    return None


def intakes_of(service: str) -> tuple[str, ...]:
    """The intake topics a service consumes."""
    return tuple(topic for topic, intake in INTAKE_OF_TOPIC.items() if intake.service == service)


_TOPIC_OF_FACT = {  # (fact type, the party it speaks for if it has one) -> its intake topic (shared)
    (fact, intake.party if "party" in fact.__struct_fields__ else None): topic
    for topic, intake in SHARED_INTAKES.items()
    for fact in intake.facts
}


def intake_of(fact: Event, host: str | None = None) -> str:
    """The one intake topic on which a fact may be stated (a placement answer: by the party it speaks for);
    a host's fact about an opening of `host` (its organisation), on that host's own topic if it is a
    partner."""
    topic = _TOPIC_OF_FACT.get((type(fact), getattr(fact, "party", None)))
    if topic is None:
        raise ValueError(f"{fact.event_type} is stated on no intake topic")
    intake = SHARED_INTAKES[topic]
    if isinstance(fact, OpeningPublished):
        host = fact.opening.host_organisation
    if intake.source == Source.HOST and host is not None and host_sender(host) != Source.HOST:
        return partner_intake(intake.service, host_sender(host))
    return topic


def writer_of(topic: str) -> str | None:
    """The one principal that writes a topic: an intake's source, an event topic's service."""
    intake = INTAKE_OF_TOPIC.get(topic)
    if intake is not None:
        return str(intake.source)
    writer: str | None = WRITER_OF_EVENTS.get(topic)
    return writer


BY_OPENING = (OpeningPublished, HostingApproved, ApplicantSelected, ProposalAnswered)  # keyed by the opening
# The facts keyed by the opening or the placement they name (the others by their volunteer)
BY_REFERENCE = frozenset(str(kind.__struct_config__.tag) for kind in (*BY_OPENING, dep.PlacementReported))


def named_subject(fact: Event) -> str | None:
    """The volunteer, opening or placement an outside fact is about, when the fact itself names it."""
    if isinstance(fact, app.ApplicationSubmitted):
        return fact.volunteer.volunteer_id
    if isinstance(fact, app.ErasureRequested):
        return fact.volunteer_id
    if isinstance(fact, OpeningPublished):
        return fact.opening.opening_id
    if isinstance(fact, HostingApproved | ApplicantSelected | ProposalAnswered):
        return fact.opening_id
    if isinstance(fact, dep.PlacementReported):
        return fact.placement_id
    return None


def refusal(topic: str, key: bytes | None, fact: Event) -> str | None:
    """Why an intake topic's fact does not bind to its sender, or None if it does."""
    intake = INTAKE_OF_TOPIC.get(topic)
    if intake is None:
        return None
    if intake.party is not None and getattr(fact, "party", intake.party) != intake.party:
        return f"the {intake.source} may speak only as party {intake.party}"
    if isinstance(fact, OpeningPublished) and host_sender(fact.opening.host_organisation) != intake.source:
        return f"an opening of this host is published by {host_sender(fact.opening.host_organisation)}"
    if key != fact.subject_id.encode():
        return "the Kafka key is not the subject_id"
    named = named_subject(fact)
    if named is not None and named != fact.subject_id:
        return f"subject_id is not the {_subject_kind(fact)} id"
    return None


def _subject_kind(fact: Event) -> str:
    if isinstance(fact, BY_OPENING):
        return "opening"
    return "placement" if isinstance(fact, dep.PlacementReported) else "volunteer"
