"""The outside world's script for each volunteer: what the portal, providers, hosts and agents will say."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from enum import StrEnum

import msgspec

from shared.contracts import departure as dep
from shared.contracts.application import ApplicationSubmitted
from shared.contracts.departure import EarlyEndReason, HostReport, InterviewStage
from shared.contracts.envelope import Event
from shared.contracts.partners import partner_of
from shared.contracts.placement import Party
from shared.contracts.types import Scheme
from shared.dates import add_months
from shared.samples import (
    all_screenings,
    answer,
    arrived,
    checklist,
    choice_approved,
    departed,
    offer_applied,
    on_site,
    opening,
    placement_reported,
    proposal_answered,
    selected,
)


class Mission(StrEnum):
    """How a volunteer's mission goes once they arrive (docs/domain.md, 'The lifecycle' 6 and 7)."""

    COMPLETED = "completed"  # interviews, civic training, the end on the contract's day, return, closure
    ENDED_EARLY = "ended-early"  # the host ends it early after the start interview; return, closure


class Choice(msgspec.Struct, frozen=True, kw_only=True):
    """A host that selects its candidates chooses this volunteer for its opening over another candidate."""

    opening_id: str
    over: str  # the other candidate's application: the host chooses once both wait for a seat


class Persona(msgspec.Struct, frozen=True, kw_only=True):
    """One volunteer's application and how the outside systems will answer along the way."""

    application: ApplicationSubmitted
    visa_granted: bool = True
    travels: bool = True
    arrives: bool = True
    expected_stage: str  # the stage this volunteer should end at (see services.cli.stages)
    applies_after: str | None = None  # apply once this other application has been proposed a seat
    mission: Mission | None = None  # None: the story stops at arrival, the mission under way
    chosen: Choice | None = None  # the host's choice, for an opening whose host selects
    applies_to: str | None = None  # the offer the volunteer applies to, once placement has them waiting
    applies_early: bool = False  # the portal sends that offer with the application (placement keeps it)


def choices(personas: Sequence[Persona], waiting: Collection[str]) -> list[Persona]:
    """The personas a host now chooses: they and the candidate passed over both wait for a seat."""
    return [
        p for p in personas
        if p.chosen is not None and p.application.application_id in waiting and p.chosen.over in waiting
    ]  # fmt: skip


def choice(persona: Persona) -> list[Event]:
    """The choice of this persona for the host's opening: the host's and the agency's, which together make
    the proposal (docs/domain.md, 'The lifecycle' 5)."""
    assert persona.chosen is not None
    opening_id = persona.chosen.opening_id
    return [selected(persona.application, opening_id), choice_approved(persona.application, opening_id)]


def host_answer(application: ApplicationSubmitted, proposal: Event, *, accepted: bool = True) -> Event:
    """The host's answer to a proposal: a partner answers by what its own topic told it (the opening and
    the placement id); a host that is not one, by the application (the agency tells it)."""
    host, placement_id = proposal.host_organisation, proposal.placement_id  # type: ignore[attr-defined]
    if partner_of(host) is None:
        return answer(application, placement_id, Party.HOST, accepted=accepted)
    at = opening(proposal.opening_id, host_organisation=host)  # type: ignore[attr-defined]
    return proposal_answered(at, placement_id, accepted=accepted)


def opening_facts(persona: Persona) -> list[Event]:
    """What is sent at once: the application, the offer applied to if the portal sends it with the
    application, and every screening report."""
    application = persona.application
    early = (
        [offer_applied(application, persona.applies_to)]
        if persona.applies_early and persona.applies_to
        else []
    )
    return [application, *early, *all_screenings(application)]


def reactions(
    persona: Persona, event: Event, planned_end: dt.date | None = None, host: str | None = None
) -> Iterator[Event]:
    """What the outside systems send in response to one of the services' events about this volunteer;
    `planned_end` is the mission's last day, as the host knows it from the confirmation, and `host` the
    placement's host, as its proposal named it."""
    placement_id = getattr(event, "placement_id", None)
    for fact in _reactions(persona, event, planned_end):
        yield by_placement(fact, placement_id, host) if placement_id and host else fact


def by_placement(fact: Event, placement_id: str, host: str) -> Event:
    """A host's fact about its placement: a partner states it by the placement id its topic gave it
    (`PlacementReported`); a host that is not one, by the application (the agency tells it)."""
    if partner_of(host) is None or getattr(fact, "party", Party.HOST) is not Party.HOST:
        return fact
    if isinstance(fact, dep.ArrivalReported):
        return placement_reported(placement_id, host, HostReport.ARRIVED)
    if isinstance(fact, dep.ExtensionAgreed):
        return placement_reported(placement_id, host, HostReport.EXTENDED, end_date=fact.end_date)
    if isinstance(fact, dep.EarlyEndNotified):
        return placement_reported(
            placement_id, host, HostReport.ENDING_EARLY, end_date=fact.last_day, ground=fact.ground
        )
    if isinstance(fact, dep.MissionEndReported):
        return placement_reported(placement_id, host, HostReport.ENDED, end_date=fact.ended_on)
    return fact


def _reactions(persona: Persona, event: Event, planned_end: dt.date | None) -> Iterator[Event]:
    application = persona.application
    kind = event.event_type
    if kind == "PlacementAwaited" and persona.applies_to is not None:
        yield offer_applied(application, persona.applies_to)  # again if waiting again: recorded once
    elif kind == "PlacementProposed":
        placement_id = event.placement_id  # type: ignore[attr-defined]
        yield answer(application, placement_id, Party.VOLUNTEER)
        yield host_answer(application, event)
    elif kind == "PlacementConfirmed":
        start = event.start_date  # type: ignore[attr-defined]
        yield from checklist(
            application,
            visa_granted=persona.visa_granted,
            departure_date=start,
            passport_expires_on=start.replace(year=start.year + 5),
        )
    elif kind == "DepartureScheduled" and persona.travels:
        yield departed(application)
    elif kind == "VolunteerDeparted" and persona.arrives:
        yield arrived(application)
    elif persona.mission is not None:
        yield from _on_site(persona, event, planned_end)


def _on_site(persona: Persona, event: Event, planned_end: dt.date | None) -> Iterator[Event]:
    """The mission's facts, each sent once the one before it is applied (they come on different topics)."""
    application, kind, stage = persona.application, event.event_type, getattr(event, "stage", None)
    if kind == "ArrivalConfirmed":  # the training first: the start interview's answer may end the mission
        if application.wishes.scheme is not Scheme.VSI:
            yield on_site(application, dep.CivicTrainingAttended)
        yield on_site(application, dep.InterviewHeld, stage=InterviewStage.START)
    elif kind == "InterviewRecorded" and stage is InterviewStage.START:
        if persona.mission is Mission.COMPLETED:
            yield on_site(application, dep.InterviewHeld, stage=InterviewStage.MID_TERM)
        elif planned_end is not None:  # three months early, a notice long enough for any scheme
            last_day = add_months(planned_end, -3)
            yield on_site(application, dep.EarlyEndNotified, last_day=last_day,
                          ground=EarlyEndReason.HOST_DECISION)  # fmt: skip
    elif kind == "InterviewRecorded" and stage is InterviewStage.MID_TERM and planned_end is not None:
        yield on_site(application, dep.MissionEndReported, ended_on=planned_end)
    elif kind == "MissionEndingEarly":  # the host reports the end on the notified last day
        yield on_site(application, dep.MissionEndReported, ended_on=event.last_day)  # type: ignore[attr-defined]
    elif kind == "MissionEnded":
        ended_on: dt.date = event.last_day  # type: ignore[attr-defined]
        yield on_site(application, dep.InterviewHeld, stage=InterviewStage.END)
        yield on_site(application, dep.ReturnReported, returned_on=ended_on + dt.timedelta(days=1))
        yield on_site(application, dep.MissionReportSubmitted)
