"""An intake fact binds to its sender: its topic says who sent it; what it asserts of itself is checked."""

from __future__ import annotations

import msgspec
import pytest

from services.application.handlers import ApplicationHandlers
from services.application.store import InMemoryApplicationStore
from services.vetting.handlers import VettingHandlers
from services.vetting.store import InMemoryVettingStore
from shared import samples
from shared.aggregates import Outgoing
from shared.contracts.codec import ContractError, decode, decode_sent, encode
from shared.contracts.departure import HostReport
from shared.contracts.envelope import Event
from shared.contracts.intake import INTAKE_OF_TOPIC, Source, intake_of
from shared.contracts.partners import PARTNERS, principal_of
from shared.contracts.placement import OpeningPublished, Party
from shared.contracts.topics import INTAKES, Topic
from shared.processing import ForeignSubjectError
from tests.examples import received

APPLICATION = samples.submitted("app-1")
OUTSIDE_FACTS: list[Event] = [
    APPLICATION,
    samples.withdrawal(APPLICATION),
    samples.erasure(APPLICATION.subject_id),
    *samples.all_screenings(APPLICATION),
    samples.screening_deadline(APPLICATION),
    samples.published(samples.opening("open-1")),
    samples.approved(samples.opening("open-1")),
    samples.offer_applied(APPLICATION, "open-1"),
    samples.applicant_selected(samples.opening("open-1"), "vol-0123456789abcdef"),
    *(samples.answer(APPLICATION, "pl-1", party) for party in Party),
    *samples.checklist(APPLICATION),
    samples.departed(APPLICATION),
    samples.arrived(APPLICATION),
    samples.placement_reported("pl-1", "A host", HostReport.ARRIVED),
]


def sent(topic: Topic, fact: Event, key: bytes | None = None) -> Event:
    return decode_sent(topic, fact.subject_id.encode() if key is None else key, encode(fact))


async def nowhere(outgoing: object) -> None:
    return None


def accepted_on(fact: Event) -> set[str]:
    """Where a fact decodes: its one intake topic; a host's fact about a placement, also on every partner's
    own topic of that service (the placement's host is checked when it is applied, not when it is read)."""
    own = intake_of(fact)
    if INTAKE_OF_TOPIC[own].source != Source.HOST or isinstance(fact, OpeningPublished):
        return {own}
    return {
        topic
        for topic, intake in INTAKE_OF_TOPIC.items()
        if intake._replace(source="") == INTAKE_OF_TOPIC[own]._replace(source="")
    }


def test_every_fact_is_accepted_on_its_intake_topics_and_refused_on_every_other() -> None:
    accepted = refused = 0
    for fact in OUTSIDE_FACTS:
        for topic in INTAKES:
            if topic in accepted_on(fact):
                assert sent(topic, fact).event_type == fact.event_type
                accepted += 1
            else:
                with pytest.raises(ContractError):
                    sent(topic, fact)
                refused += 1
    assert accepted + refused == len(OUTSIDE_FACTS) * len(INTAKES)
    assert set().union(*map(accepted_on, OUTSIDE_FACTS)) == set(INTAKES)  # every intake topic takes a fact


def test_an_opening_comes_on_its_hosts_own_topic_alone() -> None:
    for partner in PARTNERS:
        opening = samples.published(samples.opening("open-p", host_organisation=partner.organisation))
        own = intake_of(opening)
        assert own == f"envol.placement.intake.{principal_of(partner)}"
        assert sent(own, opening).producer == principal_of(partner)
        for topic in (t for t in INTAKES if t.startswith("envol.placement.intake.") and t != own):
            with pytest.raises(ContractError):
                sent(topic, opening)
    shared = samples.published(samples.opening("open-s"))  # a host that is not a partner
    assert (
        intake_of(shared) == Topic.PLACEMENT_INTAKE
        and sent(Topic.PLACEMENT_INTAKE, shared).producer == "host"
    )


def test_a_travel_agent_cannot_report_the_medical_check_or_the_visa() -> None:
    medical, _, _, visa, *_ = samples.checklist(APPLICATION)
    for fact in (medical, visa):
        with pytest.raises(ContractError, match="event_type"):
            sent(Topic.DEPARTURE_INTAKE_TRAVEL, fact)


def test_the_producer_is_the_topics_source_whatever_the_payload_says() -> None:
    forged = msgspec.structs.replace(samples.screening_deadline(APPLICATION), producer="vetting")
    assert sent(Topic.VETTING_INTAKE, forged).producer == "screening"
    for topic, intake in INTAKE_OF_TOPIC.items():
        fact = next(f for f in OUTSIDE_FACTS if topic in accepted_on(f))
        assert sent(topic, msgspec.structs.replace(fact, producer="application")).producer == intake.source


@pytest.mark.parametrize(("topic", "party"), [(Topic.PLACEMENT_INTAKE, Party.VOLUNTEER),
                                              (Topic.PLACEMENT_INTAKE_PORTAL, Party.HOST)])  # fmt: skip
def test_a_source_cannot_answer_a_placement_for_the_other_party(topic: Topic, party: Party) -> None:
    with pytest.raises(ContractError, match="may speak only as party"):
        sent(topic, samples.answer(APPLICATION, "pl-1", party))


def test_the_kafka_key_must_be_the_subject() -> None:
    with pytest.raises(ContractError, match="Kafka key is not the subject_id"):
        sent(Topic.APPLICATION_INTAKE, APPLICATION, key=b"vol-2")
    with pytest.raises(ContractError, match="Kafka key is not the subject_id"):
        sent(Topic.APPLICATION_INTAKE, APPLICATION, key=b"")


def test_an_application_is_about_its_volunteer_an_opening_and_a_placement_about_themselves() -> None:
    other = msgspec.structs.replace(APPLICATION, subject_id="vol-2")
    with pytest.raises(ContractError, match="subject_id is not the volunteer id"):
        sent(Topic.APPLICATION_INTAKE, other)
    opening = msgspec.structs.replace(samples.published(samples.opening("open-1")), subject_id="open-2")
    with pytest.raises(ContractError, match="subject_id is not the opening id"):
        sent(Topic.PLACEMENT_INTAKE, opening)
    choice = samples.applicant_selected(samples.opening("open-1"), "vol-0123456789abcdef")
    with pytest.raises(ContractError, match="subject_id is not the opening id"):
        sent(Topic.PLACEMENT_INTAKE, msgspec.structs.replace(choice, subject_id="vol-1"))
    report = samples.placement_reported("pl-1", "A host", HostReport.ARRIVED)
    with pytest.raises(ContractError, match="subject_id is not the placement id"):
        sent(Topic.DEPARTURE_INTAKE_HOST, msgspec.structs.replace(report, subject_id="vol-1"))


def test_an_intake_fact_without_its_own_event_id_is_refused() -> None:
    body = msgspec.json.decode(encode(APPLICATION))
    del body["event_id"]
    with pytest.raises(ContractError, match="event_id"):
        decode_sent(Topic.APPLICATION_INTAKE, b"vol-1", msgspec.json.encode(body))


async def test_one_senders_event_id_does_not_pre_empt_another_senders() -> None:
    """A screening provider reuses the event id of the application service's ApplicationReceived before it
    arrives: both are applied, each known by its producer and id."""
    store = InMemoryVettingStore()
    handlers = VettingHandlers(store, nowhere)
    announced = received(APPLICATION)
    squatter = msgspec.structs.replace(samples.all_screenings(APPLICATION)[0], event_id=announced.event_id)
    await handlers.handle(Topic.VETTING_INTAKE, sent(Topic.VETTING_INTAKE, squatter))
    await handlers.handle(Topic.APPLICATION_EVENTS, announced)
    applied = (await store.cases.load("app-1")).applied
    assert applied == (f"screening/{announced.event_id}", f"application/{announced.event_id}")


def application_handlers() -> tuple[ApplicationHandlers, InMemoryApplicationStore, list[Outgoing]]:
    """The application handlers on the in-memory store, and the list of what they publish."""
    published: list[Outgoing] = []

    async def publish(outgoing: object) -> None:
        published.extend(outgoing)  # type: ignore[call-overload]

    store = InMemoryApplicationStore()
    return ApplicationHandlers(store, publish), store, published


async def test_a_fact_about_another_volunteers_application_is_refused() -> None:
    """Under its own key, a portal fact naming vol-2 for vol-1's application would be applied in vol-2's
    order and publish under vol-2's key: refused, the application untouched."""
    handlers, store, published = application_handlers()
    await handlers.handle(Topic.APPLICATION_INTAKE, sent(Topic.APPLICATION_INTAKE, APPLICATION))
    before = await store.applications.load("app-1")
    foreign = msgspec.structs.replace(samples.withdrawal(APPLICATION), subject_id="vol-2")
    with pytest.raises(ForeignSubjectError):
        await handlers.handle(Topic.APPLICATION_INTAKE, sent(Topic.APPLICATION_INTAKE, foreign))
    after = await store.applications.load("app-1")
    assert (after.version, after.subject) == (before.version, "vol-1")
    assert {o.key for o in published} == {"vol-1"}


async def test_a_fact_reusing_another_volunteers_application_id_leaves_no_claim_behind() -> None:
    """Refused, it must not hold its volunteer's one open application of the scheme: their own
    application, sent next, is received, not rejected as a second one."""
    handlers, store, sent_out = application_handlers()
    await handlers.handle(Topic.APPLICATION_INTAKE, sent(Topic.APPLICATION_INTAKE, APPLICATION))
    other = {"volunteer_id": "vol-2"}
    squatter = samples.submitted("app-1", volunteer_fields=other)
    with pytest.raises(ForeignSubjectError):
        await handlers.handle(Topic.APPLICATION_INTAKE, sent(Topic.APPLICATION_INTAKE, squatter))
    assert store.claims.holders == {"vol-1:service-civique": "app-1"}  # type: ignore[attr-defined]
    own = samples.submitted("app-2", volunteer_fields=other)
    await handlers.handle(Topic.APPLICATION_INTAKE, sent(Topic.APPLICATION_INTAKE, own))
    types = [decode(Topic.APPLICATION_EVENTS, o.value).event_type for o in sent_out if o.key == "vol-2"]
    assert types == ["ApplicationReceived"]
