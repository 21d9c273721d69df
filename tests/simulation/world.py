"""The outside world: openings, volunteers and the portal, providers, hosts and agents answering the
services' events (as services/simulator/personas.py scripts them), on a clock the simulation owns."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import random
import types
import uuid
from collections.abc import Iterator

import msgspec

from services.cli.stages import ERASED
from services.placement.pseudonym import volunteer_ref
from services.simulator.personas import Persona, host_answer, opening_facts, reactions
from shared import samples
from shared.contracts import envelope
from shared.contracts.codec import decode, encode
from shared.contracts.envelope import Event
from shared.contracts.intake import intake_of
from shared.contracts.partners import PARTNERS
from shared.contracts.placement import OfferApplied, Party
from shared.contracts.topics import Topic
from shared.contracts.types import Scheme
from tests.simulation.broker import Log
from tests.simulation.scheduler import Scheduler
from tests.simulation.services import PSEUDONYM_KEY

EPOCH = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
WATCHED = tuple(
    t.value
    for t in (Topic.APPLICATION_EVENTS, Topic.VETTING_EVENTS, Topic.PLACEMENT_EVENTS, Topic.DEPARTURE_EVENTS)
)


class Cast(msgspec.Struct, frozen=True):
    """A volunteer's script, with the two turns personas.py has no words for."""

    persona: Persona
    declines_first: bool = False  # the first proposal is declined, the next accepted
    declined_by: Party = Party.VOLUNTEER  # who declines it: the volunteer, or the host (a partner: by its id)
    withdraws: bool = False  # withdraws when proposed a placement
    erased_on: str | None = None  # the agency asks the volunteer's erasure when this event is seen
    rival: str | None = None  # the volunteer's other application: exactly one of the two is placed
    chosen_on: str | None = None  # a host chooses them by reference on this opening once suggested for it
    leaves_shortlist: bool = False  # withdraws once their application to an offer is recorded

    @property
    def expected_stage(self) -> str:
        return ERASED if self.erased_on else self.persona.expected_stage


@contextlib.contextmanager
def simulated_clock() -> Iterator[None]:
    """Event ids from a counter and `occurred_at` one microsecond later at every event made: the order
    events are made in, which no wall clock can blur."""
    ticks = itertools.count(1)

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return EPOCH + dt.timedelta(microseconds=next(ticks))

    ids = itertools.count(1)
    saved = envelope.dt, envelope.uuid
    envelope.dt = types.SimpleNamespace(datetime=Clock, UTC=dt.UTC)  # type: ignore[assignment]
    envelope.uuid = types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(ids)))  # type: ignore[assignment]
    try:
        yield
    finally:
        envelope.dt, envelope.uuid = saved


def person(n: int, region: str | None = None, **script: object) -> Persona:
    """Volunteer vol-<n>'s application app-<n>, made now (in `region` if given), and their script."""
    application = samples.submitted(
        f"app-{n}", occurred_at=envelope.utc_now(), volunteer_fields={"volunteer_id": f"vol-{n}"}
    )
    if region is not None:
        application = samples.with_wishes(application, region=region)
    return Persona(application=application, **script)  # type: ignore[arg-type]


def cast(
    rng: random.Random, sizes: tuple[int, ...], declining: random.Random | None = None
) -> tuple[list[Event], list[Cast]]:
    """Three one-seat openings, of two partners and of a host that is not one (each partner's updates reach
    its own topic), and four volunteers: one has the first proposal declined (by them or its host), one has
    her visa refused, one withdraws when proposed, one goes straight; seats enough that each ends where the
    script says. The one who goes
    straight may also apply for a VSI, which has a one-seat opening of its own: whichever application
    gets a seat first is placed, the other waits. The first proposal is declined by the volunteer, or
    (`declining`, in the selecting world, where partners choose) by whom it draws: a draw apart from
    `rng`'s, so the plain world's schedules stay those the pinned seeds name."""
    hosts = (*(partner.organisation for partner in PARTNERS[:2]), "A host that is not a partner")
    openings = [
        samples.published(samples.opening(f"open-{n}", host_organisation=host))
        for n, host in enumerate(hosts, start=1)
    ]
    vsi = samples.opening("open-vsi", host_organisation=hosts[0], scheme=Scheme.VSI)
    openings.append(samples.published(vsi))

    people = [
        Cast(
            person(1, expected_stage="9 arrived"),
            declines_first=True,
            declined_by=declining.choice(list(Party)) if declining else Party.VOLUNTEER,
        ),
        Cast(person(2, visa_granted=False, expected_stage="x placement closed")),
        Cast(person(3, expected_stage="x withdrawn"), withdraws=True),
        Cast(person(4, expected_stage="9 arrived"), rival="app-5"),
    ]
    chosen = rng.sample(people, rng.choice(sizes))
    straight = next((c for c in chosen if c.rival), None)
    if straight is not None and rng.random() < 0.5:
        chosen.append(Cast(other_application(straight, "app-5", Scheme.VSI), rival="app-4"))
    else:
        chosen = [msgspec.structs.replace(c, rival=None) for c in chosen]
    return openings, chosen


def one_erased(erasing: random.Random, people: list[Cast]) -> list[Cast]:
    """The cast with one volunteer of one application (with personal values of their own) erased at a
    step of their lifecycle `erasing` picks."""
    alone = [n for n, c in enumerate(people) if not c.rival]
    if not alone:
        return people
    n = erasing.choice(alone)
    return [erased_at_some_step(erasing, c) if i == n else c for i, c in enumerate(people)]


SELECTING = samples.opening(
    "open-select", host_organisation=PARTNERS[0].organisation, region="Loreto", selected_by_host=True
)


def applicants() -> list[Cast]:
    """Three volunteers of a region of their own on a partner's one-seat opening that selects (they wait for
    it: no other opening suits them): the first does not apply, matching suggests them, and the host
    chooses them by the reference its shortlist gives, once suggested; the two others apply; the third
    withdraws once applied, leaving the shortlist."""
    offer = {"applies_to": SELECTING.opening_id}
    return [
        Cast(person(6, SELECTING.region, expected_stage="9 arrived"), chosen_on=SELECTING.opening_id),
        Cast(person(7, SELECTING.region, **offer, expected_stage="4 awaiting a seat", applies_early=True)),
        Cast(
            person(8, SELECTING.region, **offer, expected_stage="x withdrawn", applies_early=True),
            leaves_shortlist=True,
        ),
    ]


def other_application(who: Cast, application_id: str, scheme: Scheme) -> Persona:
    """The volunteer's application for another scheme, sent when they are known: with their first."""
    first = who.persona.application
    application = samples.with_wishes(
        msgspec.structs.replace(first, application_id=application_id, event_id=samples.new_id()),
        scheme=scheme,
    )
    return msgspec.structs.replace(who.persona, application=application)


def erased_at_some_step(rng: random.Random, who: Cast) -> Cast:
    """The volunteer, with a name and email no one else has, erased on one event of their way."""
    application = who.persona.application
    volunteer_id = application.subject_id
    own = {
        "given_name": f"Given-{volunteer_id}",
        "family_name": f"Family-{volunteer_id}",
        "email": f"{volunteer_id}@erased.example",
    }
    volunteer = msgspec.structs.replace(application.volunteer, **own)
    application = msgspec.structs.replace(application, volunteer=volunteer)
    persona = msgspec.structs.replace(who.persona, application=application)
    steps = ["ApplicationReceived", "VettingCleared"]
    if who.leaves_shortlist:  # withdraws once applied, perhaps before vetting clears them
        steps = ["ApplicationReceived", "CandidateApplied"]
    elif who.persona.applies_to:  # an applicant on a shortlist
        steps.append("CandidateApplied")
    if who.persona.expected_stage not in ("4 awaiting a seat", "x withdrawn") or not who.persona.applies_to:
        steps.append("PlacementProposed")
    if who.persona.expected_stage == "9 arrived":
        steps += ["PlacementConfirmed", "VolunteerDeparted", "ArrivalConfirmed"]
    return msgspec.structs.replace(who, persona=persona, erased_on=rng.choice(steps))


class World:
    """Sends the opening facts in an order the seed picks, then answers each event once."""

    def __init__(
        self,
        log: Log,
        scheduler: Scheduler,
        rng: random.Random,
        sizes: tuple[int, ...],
        erasing: random.Random | None = None,
        selecting: bool = False,
        declining: random.Random | None = None,
    ) -> None:
        self.log, self.scheduler, self.rng = log, scheduler, rng
        openings, self.people = cast(rng, sizes, declining if selecting else None)
        if selecting:
            openings, self.people = [*openings, samples.published(SELECTING)], [*self.people, *applicants()]
        if erasing is not None:
            self.people = one_erased(erasing, self.people)
        self.hosts = {
            o.opening.opening_id: o.opening.host_organisation for o in openings if hasattr(o, "opening")
        }
        self.by_application = {c.persona.application.application_id: c for c in self.people}
        streams = [[o] for o in openings] + [opening_facts(c.persona) for c in self.people]
        self.pending: list[Event] = []
        while streams:  # interleaved; each volunteer's facts in their order
            stream = rng.choice(streams)
            self.pending.append(stream.pop(0))
            streams = [s for s in streams if s]
        self.read = dict.fromkeys(((t, p) for t in WATCHED for p in range(log.partitions)), 0)
        self.answered: set[str] = set()
        self.proposals: dict[str, int] = {}
        self.erasures_asked: set[str] = set()
        self.host_of: dict[str, str] = {}  # application or placement id -> the host of its latest proposal
        self.registered: set[str] = set()  # the openings placement registered: a portal shows only those
        self.unshown: dict[
            str, list[Event]
        ] = {}  # an opening not registered yet -> the offers to apply to it

    @property
    def expected(self) -> dict[str, str]:
        """The stage each application ends at; for the rivals, see `rivals`."""
        return {a: c.expected_stage for a, c in self.by_application.items() if not c.rival}

    @property
    def rivals(self) -> list[tuple[str, str]]:
        """The pairs of applications of one volunteer, one of which ends arrived and the other waiting."""
        return sorted({tuple(sorted((a, c.rival))) for a, c in self.by_application.items() if c.rival})  # type: ignore[misc]

    @property
    def erased(self) -> list[Cast]:
        return [c for c in self.people if c.erased_on]

    def idle(self) -> bool:
        return not self.pending and all(self.log.end(t, p) == n for (t, p), n in self.read.items())

    async def run(self) -> None:
        while True:
            await self.scheduler.point("world")
            if self.idle():
                await self.scheduler.wait_for_news(WATCHED)
                continue
            if self.pending:
                fact = self.pending.pop(0)
                if isinstance(fact, OfferApplied) and fact.opening_id not in self.registered:
                    self.unshown.setdefault(fact.opening_id, []).append(fact)  # once the portal shows it
                else:
                    self._send(fact)
            for (topic, partition), start in self.read.items():
                for record in self.log.read(topic, partition, start, 1000):
                    self.read[(topic, partition)] = record.offset + 1
                    event = decode(topic, record.value)
                    if event.event_id not in self.answered:
                        self.answered.add(event.event_id)
                        if event.event_type == "PlacementProposed":  # the host answers on its own topic
                            host = event.host_organisation  # type: ignore[attr-defined]
                            self.host_of[event.application_id] = self.host_of[event.placement_id] = host  # type: ignore[attr-defined]
                        for fact in self._answers(event):
                            self._send(fact)

    def _send(self, fact: Event) -> None:
        host = (
            self.host_of.get(getattr(fact, "application_id", ""))
            or self.host_of.get(getattr(fact, "placement_id", ""))
            or self.hosts.get(getattr(fact, "opening_id", ""))
        )
        self.log.append(intake_of(fact, host), fact.subject_id.encode(), encode(fact))

    def _answers(self, event: Event) -> list[Event]:
        if event.event_type == "OpeningRegistered":
            self.registered.add(event.opening_id)  # type: ignore[attr-defined]
            return self.unshown.pop(event.opening_id, [])  # type: ignore[attr-defined]
        person = self.by_application.get(getattr(event, "application_id", ""))
        if person is None:
            return []
        application = person.persona.application
        asked = []
        if event.event_type == person.erased_on and application.application_id not in self.erasures_asked:
            self.erasures_asked.add(application.application_id)
            asked = [samples.erasure(application.subject_id)]  # the world goes on answering all the same
        return asked + self._script(person, event)

    def _script(self, person: Cast, event: Event) -> list[Event]:
        application = person.persona.application
        if event.event_type == "PlacementProposed":
            self.proposals[application.application_id] = n = (
                self.proposals.get(application.application_id, 0) + 1
            )
            if person.withdraws:
                return [samples.withdrawal(application)]
            if person.declines_first and n == 1 and person.declined_by is Party.HOST:
                return [host_answer(application, event, accepted=False)]
            if person.declines_first and n == 1:
                return [samples.answer(application, event.placement_id, Party.VOLUNTEER, accepted=False)]  # type: ignore[attr-defined]
        if event.event_type == "CandidateApplied" and person.leaves_shortlist:
            return [samples.withdrawal(application)]
        if event.event_type == "CandidateSuggested" and person.chosen_on == event.opening_id:  # type: ignore[attr-defined]
            host = self.hosts[person.chosen_on]
            ref = volunteer_ref(PSEUDONYM_KEY, host, application.subject_id)
            choices = [  # the host's and the agency's, on two topics: in either order
                samples.applicant_selected(samples.opening(person.chosen_on, host_organisation=host), ref),
                samples.choice_approved(application, person.chosen_on),
            ]
            self.rng.shuffle(choices)
            return choices
        facts = []
        host = self.host_of.get(application.application_id)
        for fact in reactions(person.persona, event, host=host):
            if isinstance(fact, OfferApplied) and fact.opening_id not in self.registered:
                self.unshown.setdefault(fact.opening_id, []).append(fact)  # applied to once it is shown
            else:
                facts.append(fact)
        return facts
