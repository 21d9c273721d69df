"""The whole lifecycle across the four service processes, driven as outside systems drive it."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Callable
from typing import TypeVar

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.placement.pseudonym import volunteer_ref
from shared import samples
from shared.contracts import application as app
from shared.contracts import departure as dep
from shared.contracts import placement as pl
from shared.contracts import vetting as vet
from shared.contracts.codec import decode, encode
from shared.contracts.envelope import Event
from shared.contracts.intake import intake_of
from shared.contracts.partner import (
    PERSONAL_FIELDS,
    CandidateShortlisted,
    ChoiceVoid,
    FactRefused,
    MissionStage,
    MissionUpdated,
    PlacementStatus,
    PlacementUpdated,
    ShortlistLeft,
)
from shared.contracts.partners import PARTNERS, Partner, principal_of, topic_of
from shared.contracts.reasons import ReasonCode
from shared.contracts.topics import Topic
from shared.contracts.types import Scheme
from shared.kafka import as_principal, client_options
from shared.settings import Settings
from tests.kafka import produce
from tests.observer import Observer

E = TypeVar("E", bound=Event)


async def send(settings: Settings, *facts: Event, host: str | None = None) -> None:
    """Send facts as an outside system would: a plain Kafka producer, JSON bytes, keyed by subject; a host's
    facts about an opening of `host` on that host's own topic if it is a partner."""
    await produce(
        settings,
        [(settings.topic(intake_of(f, host)), f.subject_id.encode(), encode(f)) for f in facts],
    )


async def accept(settings: Settings, seen: Observer, application: app.ApplicationSubmitted) -> str:
    """Wait for the proposal to the volunteer, then have both parties accept it; return the placement id."""
    proposal = await seen.wait_for(pl.PlacementProposed, application_id=application.application_id)
    placement_id = proposal.placement_id  # type: ignore[attr-defined]
    await send(
        settings,
        samples.answer(application, placement_id, pl.Party.VOLUNTEER),
        samples.answer(application, placement_id, pl.Party.HOST),
        host=proposal.host_organisation,  # type: ignore[attr-defined]
    )
    await seen.wait_for(pl.PlacementConfirmed, application_id=application.application_id)
    return str(placement_id)


async def test_visa_refusal_gives_the_seat_to_the_next_candidate_who_travels_and_arrives(
    settings: Settings, observer: Observer
) -> None:
    run = settings.namespace
    opening = samples.opening(f"{run}-moyobamba", seats=1)
    first = samples.submitted(f"{run}-a", volunteer_fields={"volunteer_id": f"{run}-vol-a"})
    second = samples.submitted(f"{run}-b", volunteer_fields={"volunteer_id": f"{run}-vol-b"})
    too_old = samples.submitted(
        f"{run}-c", volunteer_fields={"volunteer_id": f"{run}-vol-c", "birth_date": dt.date(1990, 1, 1)}
    )

    await send(settings, samples.published(opening), first, *samples.all_screenings(first))
    first_placement = await accept(settings, observer, first)

    await send(settings, second, *samples.all_screenings(second), too_old, *samples.all_screenings(too_old))
    await observer.wait_for(pl.PlacementAwaited, application_id=second.application_id)
    refused = await observer.wait_for(vet.VettingRefused, application_id=too_old.application_id)
    assert refused.reasons == (ReasonCode.TOO_OLD,)  # type: ignore[attr-defined]

    await send(settings, *samples.checklist(first, visa_granted=False))
    cancelled = await observer.wait_for(dep.DepartureCancelled, application_id=first.application_id)
    assert cancelled.reason == ReasonCode.VISA_REFUSED  # type: ignore[attr-defined]
    await observer.wait_for(pl.PlacementCancelled, application_id=first.application_id)

    second_placement = await accept(settings, observer, second)
    proposal = observer.of(pl.PlacementProposed, application_id=second.application_id)[0]
    assert proposal.opening_id == opening.opening_id  # type: ignore[attr-defined]
    await travel(settings, observer, second)

    statuses = {first_placement: [], second_placement: []}  # type: dict[str, list[PlacementStatus]]
    await observer.wait_until(
        lambda: observer.of(PlacementUpdated, placement_id=second_placement, status=PlacementStatus.ARRIVED),
        30,
        "partner update 'arrived'",
    )
    seen: set[str] = set()  # partners drop the copies at-least-once delivery brings, by event id
    for update in observer.of(PlacementUpdated):
        if update.event_id in seen:
            continue
        seen.add(update.event_id)
        statuses.setdefault(update.placement_id, []).append(update.status)  # type: ignore[attr-defined]
    assert statuses[first_placement] == ["proposed", "confirmed", "cancelled"]
    assert statuses[second_placement] == ["proposed", "confirmed", "departed", "arrived"]


async def test_the_partner_topic_carries_no_personal_data(settings: Settings, observer: Observer) -> None:
    run = settings.namespace
    opening = samples.opening(f"{run}-iquitos", seats=1, country="PE", region="Loreto")
    person = samples.submitted(
        f"{run}-d",
        volunteer_fields={"volunteer_id": f"{run}-vol-d", "email": "private.person@example.org"},
        wishes=samples.wishes(region="Loreto"),
    )
    await send(settings, samples.published(opening), person, *samples.all_screenings(person))
    await accept(settings, observer, person)
    await observer.wait_until(
        lambda: [e for e in observer.of(PlacementUpdated) if e.status == PlacementStatus.CONFIRMED],  # type: ignore[attr-defined]
        30,
        "partner update 'confirmed'",
    )
    partner = [r for topic, r in observer.seen if topic == Topic.PARTNER_PLACEMENT_UPDATES]
    assert partner
    for record in partner:
        body = msgspec.json.decode(record.value)
        assert not PERSONAL_FIELDS & set(body)
        for secret in (person.volunteer.volunteer_id, "private.person", "2002-05-14", "Durand", "Camille"):
            assert secret.encode() not in record.value
            assert secret.encode() not in (record.key or b"")


async def travel(settings: Settings, seen: Observer, application: app.ApplicationSubmitted) -> None:
    """Have the confirmed volunteer go through the checklist, depart and arrive."""
    await send(settings, *samples.checklist(application))
    await seen.wait_for(dep.DepartureScheduled, application_id=application.application_id)
    await send(settings, samples.departed(application))
    await seen.wait_for(dep.VolunteerDeparted, application_id=application.application_id)
    await send(settings, samples.arrived(application))
    await seen.wait_for(dep.ArrivalConfirmed, application_id=application.application_id)


async def test_an_early_end_gives_the_seat_to_the_next_candidate_and_the_first_comes_back_and_closes(
    settings: Settings, observer: Observer
) -> None:
    run = settings.namespace
    opening = samples.opening(f"{run}-early-moyobamba", seats=1)
    first = samples.submitted(f"{run}-early-a", volunteer_fields={"volunteer_id": f"{run}-early-vol-a"})
    second = samples.submitted(f"{run}-early-b", volunteer_fields={"volunteer_id": f"{run}-early-vol-b"})
    await send(settings, samples.published(opening), first, *samples.all_screenings(first))
    placement_id = await accept(settings, observer, first)
    await travel(settings, observer, first)
    await send(settings, second, *samples.all_screenings(second))
    await observer.wait_for(pl.PlacementAwaited, application_id=second.application_id)

    start = dep.InterviewStage.START
    await send(settings, samples.on_site(first, dep.InterviewHeld, stage=start),
               samples.on_site(first, dep.CivicTrainingAttended))  # fmt: skip
    await observer.wait_for(dep.CivicTrainingRecorded, application_id=first.application_id)
    last_day = dt.date(2027, 5, 31)  # three months before the contract's end
    early = samples.on_site(first, dep.EarlyEndNotified, last_day=last_day,
                            ground=dep.EarlyEndReason.HOST_DECISION)  # fmt: skip
    await send(settings, early)
    await observer.wait_for(dep.MissionEndingEarly, application_id=first.application_id)
    assert observer.of(pl.PlacementProposed, application_id=second.application_id) == []  # still on site
    await send(settings, samples.on_site(first, dep.MissionEndReported, ended_on=last_day))
    ended = await observer.wait_for(dep.MissionEnded, application_id=first.application_id)
    assert (ended.last_day, ended.early, ended.reason) == (  # type: ignore[attr-defined]
        last_day,
        True,
        "early-end:host-decision",
    )
    proposal = await observer.wait_for(pl.PlacementProposed, application_id=second.application_id)
    assert proposal.opening_id == opening.opening_id  # type: ignore[attr-defined]
    await observer.wait_for(MissionUpdated, placement_id=placement_id, stage=MissionStage.ENDED)
    told = [(e.stage, e.end_date) for e in observer.of(MissionUpdated, placement_id=placement_id)]  # type: ignore[attr-defined]
    assert told == [(MissionStage.ENDING_EARLY, last_day), (MissionStage.ENDED, last_day)]  # its host's

    back = samples.on_site(first, dep.ReturnReported, returned_on=last_day + dt.timedelta(days=1))
    end_interview = samples.on_site(first, dep.InterviewHeld, stage=dep.InterviewStage.END)
    await send(settings, back, end_interview, samples.on_site(first, dep.MissionReportSubmitted))
    await observer.wait_for(dep.MissionClosed, application_id=first.application_id)
    kinds = [
        e.event_type for e in observer.of(Event) if getattr(e, "application_id", None) == first.application_id
    ]
    assert kinds.index("MissionEnded") < kinds.index("VolunteerReturned") < kinds.index("MissionClosed")


async def test_the_host_and_the_agency_choose_one_of_two_waiting_candidates_and_the_other_is_refused_its_seat(
    settings: Settings, observer: Observer
) -> None:
    run = settings.namespace
    opening = samples.opening(f"{run}-select-iquitos", seats=1, selected_by_host=True)
    first = samples.submitted(f"{run}-select-a", volunteer_fields={"volunteer_id": f"{run}-select-vol-a"})
    second = samples.submitted(f"{run}-select-b", volunteer_fields={"volunteer_id": f"{run}-select-vol-b"})
    await send(settings, samples.published(opening), first, *samples.all_screenings(first),
               second, *samples.all_screenings(second))  # fmt: skip
    await observer.wait_for(pl.OpeningRegistered, opening_id=opening.opening_id)
    for candidate in (first, second):
        await observer.wait_for(pl.PlacementAwaited, application_id=candidate.application_id)

    def by_host(candidate: app.ApplicationSubmitted) -> pl.CandidateSelected:
        return samples.selected(candidate, opening.opening_id, event_id=f"{candidate.application_id}-chosen")

    def by_agency(candidate: app.ApplicationSubmitted) -> pl.ChoiceApproved:
        return samples.choice_approved(
            candidate, opening.opening_id, event_id=f"{candidate.application_id}-ok"
        )

    await send(settings, by_host(second))
    chosen = await observer.wait_for(pl.CandidateChosen, application_id=second.application_id)
    assert (chosen.by, chosen.agreed) == ("host", False)  # type: ignore[attr-defined]
    await asyncio.sleep(1.0)  # the host alone: no proposal
    assert observer.of(pl.PlacementProposed, application_id=second.application_id) == []
    await send(settings, by_agency(second))
    proposal = await observer.wait_for(pl.PlacementProposed, application_id=second.application_id)
    assert proposal.opening_id == opening.opening_id  # type: ignore[attr-defined]
    await send(settings, by_agency(first), by_host(first))  # two topics: whichever completes the choice
    either = {f"{first.application_id}-ok", f"{first.application_id}-chosen"}
    [refused] = await observer.wait_until(
        lambda: [e for e in observer.of(app.TransitionRefused) if e.refused_event_id in either],  # type: ignore[attr-defined]
        60,
        "the refusal of the first's choice",
    )
    assert refused.reason == "no seat of the opening is free"  # type: ignore[attr-defined]
    assert observer.of(pl.PlacementProposed, application_id=first.application_id) == []


async def test_a_reciprocity_hosting_is_proposed_only_once_the_agency_has_approved_it(
    settings: Settings, observer: Observer
) -> None:
    run = settings.namespace
    paris = samples.opening(f"{run}-paris", scheme=Scheme.RECIPROCITY, country="FR", region="Île-de-France",
                            duration_months=10)  # fmt: skip
    volunteer = samples.with_wishes(
        samples.submitted(f"{run}-recip", volunteer_fields={"volunteer_id": f"{run}-recip-vol",
                                                            "nationality": "PE"}),
        scheme=Scheme.RECIPROCITY, country="FR", region="Île-de-France",
    )  # fmt: skip
    await send(settings, samples.published(paris), volunteer, *samples.all_screenings(volunteer))
    await observer.wait_for(pl.OpeningRegistered, opening_id=paris.opening_id)
    await observer.wait_for(pl.PlacementAwaited, application_id=volunteer.application_id)
    await asyncio.sleep(2.0)  # time enough for a proposal, were one made before the approval
    assert observer.of(pl.PlacementProposed, application_id=volunteer.application_id) == []
    await send(settings, samples.approved(paris))
    proposal = await observer.wait_for(pl.PlacementProposed, application_id=volunteer.application_id)
    assert proposal.opening_id == paris.opening_id  # type: ignore[attr-defined]


async def read_as(settings: Settings, principal: str, topic: str) -> list[Event]:
    """Everything on `topic` so far, read as `principal` (without a group, from the start)."""
    names = [settings.topic(topic)]
    consumer = AIOKafkaConsumer(**client_options(as_principal(settings, principal)), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(names[0], p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Event] = []
        while [p for p, end in ends.items() if await consumer.position(p) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [decode(topic, record.value) for record in records]
        return found
    finally:
        await consumer.stop()


async def partner_reads(
    settings: Settings, partner: Partner, found: Callable[[list[Event]], list[E]], what: str
) -> list[E]:
    """What `found` finds on the partner's own topic, read as the partner, once it finds something (30 s)."""
    for _ in range(60):
        if seen := found(await read_as(settings, principal_of(partner), topic_of(partner))):
            return seen
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} never reached {partner.id}'s own topic")


async def send_as(settings: Settings, partner: Partner, fact: Event) -> None:
    """State a fact as the partner, on its own intake topic."""
    topic = settings.topic(intake_of(fact, partner.organisation))
    await produce(
        as_principal(settings, principal_of(partner)), [(topic, fact.subject_id.encode(), encode(fact))]
    )


async def test_a_partner_answers_its_proposal_and_reports_the_mission_with_what_its_own_topic_says(
    settings: Settings, observer: Observer
) -> None:
    run = settings.namespace
    npc = next(p for p in PARTNERS if p.id == "npc")
    region = f"{run} answer"  # of this test alone
    opening = samples.opening(f"{run}-answer", host_organisation=npc.organisation, region=region)
    person = samples.submitted(
        f"{run}-answer",
        volunteer_fields={"volunteer_id": f"{run}-answer-vol"},
        wishes=samples.wishes(region=region),
    )
    await send(settings, samples.published(opening), person, *samples.all_screenings(person))
    [update] = await partner_reads(  # what the partner knows of the proposal: its own topic
        settings,
        npc,
        lambda own: [
            e
            for e in own
            if isinstance(e, PlacementUpdated)
            and e.opening_id == opening.opening_id
            and e.status == "proposed"
        ],
        "the proposal",
    )
    await send(settings, samples.answer(person, update.placement_id, pl.Party.VOLUNTEER))
    await send_as(settings, npc, samples.proposal_answered(opening, update.placement_id))
    confirmed = await observer.wait_for(pl.PlacementConfirmed, application_id=person.application_id)
    assert confirmed.placement_id == update.placement_id  # type: ignore[attr-defined]

    # on site, the partner reports by the placement id alone, and reads each stage on its own topic
    await send(settings, *samples.checklist(person))
    await send(settings, samples.departed(person))
    departed = await partner_reads(settings, npc, updates_of(update.placement_id, "departed"), "departed")
    report = functools.partial(samples.placement_reported, update.placement_id, npc.organisation)
    await send_as(settings, npc, report(dep.HostReport.ARRIVED))
    await partner_reads(settings, npc, updates_of(update.placement_id, "arrived"), "the arrival")
    last_day = dt.date(2027, 5, 31)
    ending = report(
        dep.HostReport.ENDING_EARLY, end_date=last_day, ground=dep.EarlyEndReason.MUTUAL_AGREEMENT
    )
    await send_as(settings, npc, ending)
    await send_as(settings, npc, report(dep.HostReport.ENDED, end_date=last_day))
    ended = await observer.wait_for(dep.MissionEnded, application_id=person.application_id)
    assert (ended.last_day, ended.reason) == (last_day, "early-end:mutual-agreement")  # type: ignore[attr-defined]
    stages = await partner_reads(
        settings,
        npc,
        lambda own: [
            e for e in own if isinstance(e, MissionUpdated) and e.placement_id == update.placement_id
        ],
        "the mission's end",
    )
    assert [(e.stage, e.end_date) for e in stages][-2:] == [
        (MissionStage.ENDING_EARLY, last_day),
        (MissionStage.ENDED, last_day),
    ]
    assert departed[0].volunteer_ref == update.volunteer_ref
    stranger = next(p for p in PARTNERS if p.id == "ird")  # another partner, on its own topic
    forged = samples.placement_reported(update.placement_id, stranger.organisation, dep.HostReport.ARRIVED)
    await send_as(settings, stranger, forged)
    refused = await observer.wait_for(app.TransitionRefused, refused_event_id=forged.event_id)
    assert refused.reason == "partner-ird is not the host of this opening"  # type: ignore[attr-defined]
    # the stranger reads why on its own topic: placement's refusal of its answer, departure's of its report
    # (relayed by placement); the host's topic says nothing of either
    late_answer = samples.proposal_answered(opening, update.placement_id)  # its producer: set from the topic
    await send_as(settings, stranger, late_answer)
    # keyed by the opening the answer named; the report, refused as the arrival it stands for (a fact about
    # the volunteer), by the partner's own event id
    mine = {forged.event_id: forged.event_id, late_answer.event_id: opening.opening_id}

    def refusals(own: list[Event]) -> list[FactRefused]:
        found = {
            e.refused_event_id: e for e in own if isinstance(e, FactRefused) and e.refused_event_id in mine
        }
        return list(found.values()) if len(found) == len(mine) else []

    told = await partner_reads(settings, stranger, refusals, "the refusals of its facts")
    assert {(e.refused_event_id, e.subject_id) for e in told} == set(mine.items())
    assert {e.refused_event_type for e in told} == {"ArrivalReported", "ProposalAnswered"}
    assert {e.reason for e in told} == {"partner-ird is not the host of this opening"}
    hosts = await read_as(settings, principal_of(npc), topic_of(npc))
    assert not [e for e in hosts if isinstance(e, FactRefused) and e.refused_event_id in mine]


def updates_of(placement_id: str, status: str) -> Callable[[list[Event]], list[PlacementUpdated]]:
    """Finds a placement's updates of one status on a partner's topic."""
    return lambda own: [
        e
        for e in own
        if isinstance(e, PlacementUpdated) and e.placement_id == placement_id and e.status == status
    ]


async def test_each_partner_reads_its_own_placements_and_no_other_hosts(
    settings: Settings, observer: Observer
) -> None:
    run = settings.namespace
    npc, ird = (p for p in PARTNERS if p.id in ("npc", "ird"))
    openings = {
        # a region of its own: no candidate of another test of this namespace, still waiting, takes the seat
        partner: samples.opening(f"{run}-{partner.id}", host_organisation=partner.organisation, region=region)
        for partner, region in ((npc, "Amazonas"), (ird, "Ucayali"))
    }
    people = {
        partner: samples.submitted(
            f"{run}-{partner.id}-a",
            volunteer_fields={"volunteer_id": f"{run}-vol-{partner.id}"},
            wishes=samples.wishes(region=opening.region),
        )
        for partner, opening in openings.items()
    }
    await send(settings, *(samples.published(o) for o in openings.values()))
    for person in people.values():
        await send(settings, person, *samples.all_screenings(person))
    placed = {partner: await accept(settings, observer, person) for partner, person in people.items()}
    for partner, placement_id in placed.items():
        await observer.wait_until(
            lambda p=placement_id: observer.of(
                PlacementUpdated, placement_id=p, status=PlacementStatus.CONFIRMED
            ),
            30,
            f"partner update 'confirmed' of {partner.id}",
        )
        everything = await read_as(settings, principal_of(partner), topic_of(partner))
        # its own placements only (other tests of this namespace place volunteers with it too), ours too
        assert {e.host_organisation for e in everything} == {partner.organisation}  # type: ignore[attr-defined]
        own = [e for e in everything if isinstance(e, PlacementUpdated)]
        others = {p for other, p in placed.items() if other != partner}
        assert placement_id in {e.placement_id for e in own} and not others & {e.placement_id for e in own}  # type: ignore[attr-defined]
        once = {e.event_id: e for e in own if e.placement_id == placement_id}.values()  # type: ignore[attr-defined]
        assert [e.status for e in once] == ["proposed", "confirmed"]  # type: ignore[attr-defined]


async def shortlist_of(
    settings: Settings, partner: Partner, opening_id: str, size: int
) -> list[CandidateShortlisted]:
    """The shortlist entries of an opening on the partner's own topic, read as the partner, once `size`."""

    def entries(own: list[Event]) -> list[CandidateShortlisted]:
        once = {e.event_id: e for e in own if isinstance(e, CandidateShortlisted)}  # copies: once
        found = [e for e in once.values() if e.opening_id == opening_id]
        return found if len({e.volunteer_ref for e in found}) >= size else []

    return await partner_reads(settings, partner, entries, f"{size} applicants to {opening_id}")


async def test_matching_suggests_a_waiting_volunteer_to_a_partner_who_chooses_them_with_the_agency(
    settings: Settings, observer: Observer
) -> None:
    run = settings.namespace
    npc = next(p for p in PARTNERS if p.id == "npc")
    region = f"{run} suggest"  # of this test alone
    person = samples.with_wishes(samples.submitted_now(f"{run}-suggest", f"{run}-suggest-vol"), region=region)
    await send(settings, person, *samples.all_screenings(person))
    await observer.wait_for(pl.PlacementAwaited, application_id=person.application_id)  # no opening yet
    opening = samples.opening(
        f"{run}-suggest", seats=1, selected_by_host=True, host_organisation=npc.organisation, region=region,
        start_date=person.wishes.available_from, published_on=dt.date.today() - dt.timedelta(days=20),
    )  # fmt: skip
    await send(settings, samples.published(opening), host=npc.organisation)
    await observer.wait_for(
        pl.CandidateSuggested, application_id=person.application_id, opening_id=opening.opening_id
    )
    [entry] = await shortlist_of(settings, npc, opening.opening_id, 1)
    ref = volunteer_ref(settings.pseudonym_key, npc.organisation, person.volunteer.volunteer_id)
    assert entry.suggested and entry.volunteer_ref == ref
    await asyncio.sleep(1.0)  # a suggestion reserves nothing
    assert not observer.of(pl.PlacementProposed, application_id=person.application_id)

    await send_as(settings, npc, samples.applicant_selected(opening, ref))
    await send(settings, samples.choice_approved(person, opening.opening_id))  # the agency agrees
    proposal = await observer.wait_for(pl.PlacementProposed, application_id=person.application_id)
    assert proposal.opening_id == opening.opening_id  # type: ignore[attr-defined]


async def test_volunteers_apply_to_a_partners_offer_and_the_partner_chooses_one_from_its_shortlist(
    settings: Settings, observer: Observer
) -> None:
    run = settings.namespace
    npc = next(p for p in PARTNERS if p.id == "npc")
    region = f"{run} apply"  # of this test alone: matching suggests no other test's volunteer for it
    people = [
        samples.with_wishes(samples.submitted_now(f"{run}-apply-{n}", f"{run}-apply-vol-{n}"), region=region)
        for n in (1, 2)
    ]
    start = people[0].wishes.available_from  # an offer not started yet, published long enough ago
    published_on = dt.date.today() - dt.timedelta(days=20)
    opening = samples.opening(
        f"{run}-apply", seats=1, selected_by_host=True, host_organisation=npc.organisation,
        start_date=start, published_on=published_on, region=region,
    )  # fmt: skip
    await send(settings, samples.published(opening), host=npc.organisation)
    await observer.wait_for(pl.OpeningRegistered, opening_id=opening.opening_id)
    first, second = people
    await send(settings, first, *samples.all_screenings(first))
    await observer.wait_for(pl.PlacementAwaited, application_id=first.application_id)
    await send(settings, samples.offer_applied(first, opening.opening_id))
    await observer.wait_for(pl.CandidateApplied, application_id=first.application_id)
    # the second's portal sends the offer with the application: placement keeps it until it has that
    early = samples.offer_applied(second, opening.opening_id)
    await send(settings, early, second, *samples.all_screenings(second))
    await observer.wait_for(pl.CandidateApplied, application_id=second.application_id)
    assert not [e for e in observer.of(app.TransitionRefused) if e.refused_event_id == early.event_id]  # type: ignore[attr-defined]

    shortlist = await shortlist_of(settings, npc, opening.opening_id, 2)  # both were suggested, or applied
    seen_by_partner = b"".join(encode(e) for e in shortlist)
    assert not any(p.application_id.encode() in seen_by_partner for p in people)
    assert not any(p.volunteer.volunteer_id.encode() in seen_by_partner for p in people)
    chosen = shortlist[0].volunteer_ref
    await send_as(settings, npc, samples.applicant_selected(opening, chosen))
    key, host = settings.pseudonym_key, npc.organisation
    ref_of = {p.application_id: volunteer_ref(key, host, p.volunteer.volunteer_id) for p in people}
    [picked] = [p for p in people if ref_of[p.application_id] == chosen]
    await send(settings, samples.choice_approved(picked, opening.opening_id))  # the agency agrees
    proposal = await observer.wait_for(pl.PlacementProposed, opening_id=opening.opening_id)
    update = await observer.wait_for(PlacementUpdated, placement_id=proposal.placement_id)  # type: ignore[attr-defined]
    assert update.volunteer_ref == chosen  # type: ignore[attr-defined]
    await asyncio.sleep(1.0)  # one seat: nobody else is proposed it
    assert len(observer.of(pl.PlacementProposed, opening_id=opening.opening_id)) == 1

    # the partner and the agency choose the other applicant too: no seat, so the partner hears it is void
    [other] = [p for p in people if ref_of[p.application_id] != chosen]
    await send_as(settings, npc, samples.applicant_selected(opening, ref_of[other.application_id]))
    await send(settings, samples.choice_approved(other, opening.opening_id))
    void = await partner_reads(
        settings,
        npc,
        lambda own: [e for e in own if isinstance(e, ChoiceVoid) and e.opening_id == opening.opening_id],
        "the void choice",
    )
    assert [e.volunteer_ref for e in void] == [ref_of[other.application_id]]

    # the other applicant withdraws: the partner learns they left its shortlist, by reference alone
    await send(settings, samples.withdrawal(other))
    await observer.wait_for(pl.PlacementClosed, application_id=other.application_id)
    left = await partner_reads(
        settings,
        npc,
        lambda own: [e for e in own if isinstance(e, ShortlistLeft) and e.opening_id == opening.opening_id],
        "the applicant's leaving",
    )
    assert {e.volunteer_ref for e in left} == {ref_of[other.application_id]}
