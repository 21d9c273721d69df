"""The audit's checks on what outside systems may send: their order and their ids are theirs, not Envol's."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from types import SimpleNamespace

import msgspec

from services.cli.audit import (
    about_erased,
    dead_letters_explained,
    erasures_hold,
    holding_any,
    leaked,
    order_kept,
    outcomes_once,
    partner_clean,
    personal_values,
    reasons_coded,
    seats_respected,
    without_the_partners_own,
)
from services.cli.erasure import ServiceErasure, Status
from services.cli.history import OUTCOMES, History
from services.cli.reading import EPOCH, Seen, digest
from shared import samples
from shared.contracts.application import ApplicationWithdrawn, ErasureCompleted
from shared.contracts.departure import MissionEnded
from shared.contracts.envelope import Event
from shared.contracts.partners import PARTNERS, Partner, principal_of, topic_of
from shared.contracts.placement import OpeningRegistered, Party, PlacementCancelled, PlacementProposed
from shared.contracts.reasons import ReasonCode, check_failed
from shared.contracts.topics import TOPICS, Topic, partner_intake
from shared.contracts.vetting import Check, VettingCleared, VettingRefused
from shared.statemachine import refusal
from tests.examples import example
from tests.unit.test_placement_domain import received

AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def one_seat(opening_id: str = "open-1") -> tuple[Event, Event]:
    """An opening of one seat, published by its host and registered by placement."""
    opening = samples.published(samples.opening(opening_id, seats=1))
    registered = OpeningRegistered(
        subject_id=opening_id, producer="placement", opening_id=opening_id, causation_id=opening.event_id
    )
    return opening, registered


def history_of(
    *events: Event, topic: Topic = Topic.PLACEMENT_EVENTS, apart: dt.timedelta = dt.timedelta(seconds=1)
) -> History:
    """The history of events logged `apart` from one another, in this order, on one partition of `topic`."""
    record = SimpleNamespace(key=b"vol-1", value=b"", headers=())
    return History.of(Seen(topic, 0, n, AT + n * apart, record, event) for n, event in enumerate(events))


def seen(topic: Topic, offset: int, occurred_at: dt.datetime, application_id: str = "app-1") -> Seen:
    event = msgspec.structs.replace(
        samples.submitted(), occurred_at=occurred_at, application_id=application_id
    )
    record = SimpleNamespace(key=b"vol-1", value=b"", headers=())
    return Seen(topic, 0, offset, AT + dt.timedelta(seconds=offset), record, event)


def test_events_out_of_time_order_on_an_intake_topic_are_the_senders_not_a_broken_promise() -> None:
    late_first = [
        seen(Topic.APPLICATION_INTAKE, 0, AT),
        seen(Topic.APPLICATION_INTAKE, 1, AT.replace(year=1950)),
    ]
    assert order_kept(History.of(late_first)).ok


def test_events_out_of_time_order_on_a_topic_envol_writes_are_reported() -> None:
    late_first = [
        seen(Topic.APPLICATION_EVENTS, 0, AT),
        seen(Topic.APPLICATION_EVENTS, 1, AT.replace(year=1950)),
    ]
    check = order_kept(History.of(late_first))
    assert not check.ok and "1 out of order" in check.detail


def test_two_applications_of_one_volunteer_keep_each_its_own_order_not_one_between_them() -> None:
    interleaved = [
        seen(Topic.VETTING_EVENTS, 0, AT + dt.timedelta(2), "app-5"),
        seen(Topic.VETTING_EVENTS, 1, AT, "app-4"),  # made before app-5's, published after: independent
        seen(Topic.VETTING_EVENTS, 2, AT + dt.timedelta(3), "app-4"),
    ]
    assert order_kept(History.of(interleaved)).ok
    late = [*interleaved, seen(Topic.VETTING_EVENTS, 3, AT + dt.timedelta(1), "app-5")]
    check = order_kept(History.of(late))
    assert not check.ok and "1 out of order" in check.detail


def test_a_short_personal_value_leaks_only_as_a_whole_string() -> None:
    message = b'{"mission":"Conservation des especes","volunteer_ref":"es"}'
    assert leaked(b"es", message)  # the whole value
    assert not leaked(b"es", b'{"mission":"Conservation des especes"}')  # only letters inside a word


def test_a_long_personal_value_leaks_anywhere_inside_a_message() -> None:
    assert leaked(b"durand", b'{"placement_id":"camille.durand.p1"}')
    assert not leaked(b"durand", b'{"placement_id":"pl-7f3a"}')


def test_a_personal_value_that_is_a_word_of_the_openings_text_is_not_a_leak() -> None:
    message = b'{"placement_id":"pl-1","mission":"Conservation through education","region":"San Martin"}'
    assert not leaked(b"education", without_the_partners_own(message))
    assert leaked(b"education", without_the_partners_own(b'{"placement_id":"education.p1","mission":"x"}'))


def partner_seen(key: bytes, value: bytes, headers: tuple[tuple[str, bytes], ...] = ()) -> Seen:
    record = SimpleNamespace(key=key, value=value, headers=headers)
    return Seen(Topic.PARTNER_PLACEMENT_UPDATES, 0, 0, AT, record, samples.submitted())


def test_the_partner_check_finds_an_application_id_a_given_name_or_a_correlation_id_anywhere() -> None:
    application = samples.submitted("camille-app", volunteer_fields={"volunteer_id": "vol-camille"})
    internal = msgspec.structs.replace(
        received(application), correlation_id="c0ffee00-1111-2222-3333-444455556666"
    )
    clean = b'{"placement_id":"pl-0a1b","volunteer_ref":"vol-0123456789abcdef"}'
    secrets = personal_values([internal])
    assert partner_clean([partner_seen(b"pl-0a1b", clean)], secrets, {}).ok
    given = application.volunteer.given_name.encode()
    for leaking in (
        partner_seen(b"camille-app.p1", clean),  # the portal's application id in the key
        partner_seen(b"pl-0a1b", clean.replace(b"pl-0a1b", b"camille-app.p1")),
        partner_seen(b"pl-0a1b", clean[:-1] + b',"correlation_id":"c0ffee00-1111-2222-3333-444455556666"}'),
        partner_seen(b"pl-0a1b", clean, (("note", b"for " + given),)),  # a given name in a header
    ):
        check = partner_clean([leaking], secrets, {})
        assert not check.ok and "1 leaks" in check.detail


def test_a_refusal_told_to_a_partner_may_name_its_own_event_id_and_nothing_else_of_the_run() -> None:
    """A partner's fact without a correlation id gives Envol's refusal of it the fact's event id as its
    correlation id: told back to the partner (`FactRefused`), it is the partner's own, no leak; only on
    that partner's topic, only a fact it stated, only as a whole value."""
    ird, npc = (next(p for p in PARTNERS if p.id == name) for name in ("ird", "npc"))
    application = samples.submitted("camille-app", volunteer_fields={"volunteer_id": "vol-camille"})
    own_id, lifecycle = "a", "c0ffee00-1111-2222-3333-444455556666"  # an id of one letter, as `Id` allows
    fact = msgspec.structs.replace(samples.answer(application, "pl-1", Party.HOST), event_id=own_id)
    stated = Seen(partner_intake("placement", principal_of(ird)), 0, 0, AT, SimpleNamespace(), fact)
    secrets = personal_values(
        msgspec.structs.replace(received(application), correlation_id=correlation)
        for correlation in (lifecycle, own_id)  # own_id: Envol's refusal of the fact
    )
    stated_by = History.of([stated]).stated
    told = (
        b'{"event_type":"FactRefused","refused_event_id":"a","refused_event_type":"PlacementAnswered",'
        b'"reason":"partner-ird is not the host of this opening","subject_id":"a","correlation_id":"a"}'
    )

    def on_topic_of(partner: Partner, value: bytes) -> list[Seen]:
        record = SimpleNamespace(key=b"a", value=value, headers=(("correlation_id", b"a"),))
        return [Seen(topic_of(partner), 0, 0, AT, record, None)]

    assert partner_clean(on_topic_of(ird, told), secrets, stated_by).ok
    for partner, leaking in (
        (ird, told.replace(b"partner-ird is", b"camille-app is")),  # the portal's application id
        (ird, told.replace(b'"reason"', b'"note":"' + lifecycle.encode() + b'","reason"')),
        (ird, told.replace(b"FactRefused", b"PlacementUpdated")),  # only a refusal gives an id back
        (npc, told),  # on another partner's topic, ird's id is not npc's own
    ):
        check = partner_clean(on_topic_of(partner, leaking), secrets, stated_by)
        assert not check.ok and "1 leaks" in check.detail, (partner.id, leaking)


def test_a_value_of_hex_digits_alone_leaks_only_as_a_whole_string() -> None:
    assert not leaked(b"0123", b'{"volunteer_ref":"vol-0123456789abcdef"}')  # a pseudonym's digits
    assert leaked(b"0123", b'{"ref":"0123"}')


def erasure(volunteer_id: str, kept: list[str] | None = None) -> Status:
    services = [ServiceErasure(s, erased=["app-1"], kept=[]) for s in ("application", "vetting")]
    services.append(ServiceErasure("placement", erased=[] if kept else ["app-1"], kept=kept or []))
    return Status(volunteer_id, True, ["app-1"], services)


def on(topic: Topic, key: bytes, value: bytes) -> Seen:
    return Seen(topic, 0, 0, AT, SimpleNamespace(key=key, value=value, headers=()), None)


def left(erased: Sequence[Status], records: Sequence[Seen]) -> Counter[str]:
    about = about_erased(erased)
    return Counter(volunteer for record in records for volunteer in about(record))


def test_the_erasure_check_fails_on_a_record_about_an_erased_volunteer_or_a_service_still_holding_them() -> (
    None
):
    erased = [erasure("vol-1")]
    others = [on(Topic.APPLICATION_EVENTS, b"vol-2", b'{"volunteer_id":"vol-2"}'),
              on(Topic.PARTNER_PLACEMENT_UPDATES, b"pl-1", b'{"placement_id":"pl-1"}')]  # fmt: skip
    assert erasures_hold(erased, left(erased, others)).ok
    nobody: list[Status] = []
    assert erasures_hold(nobody, left(nobody, [on(Topic.DEAD_LETTER, b"vol-1", b"")])).ok  # nothing to find
    wrongly_keyed = on(Topic.DEAD_LETTER, b"vol-2", b'{"subject_id":"vol-1"}')
    records = [*others, wrongly_keyed, on(Topic.VETTING_EVENTS, b"vol-1", b"\xff")]
    check = erasures_hold(erased, left(erased, records))
    assert not check.ok and "2 records about them" in check.detail
    held = erasures_hold([erasure("vol-1", kept=["app-1"])], left(erased, others))
    assert not held.ok and "1 still held by a service (vol-1)" in held.detail


def test_the_search_for_many_secrets_at_once_finds_each_inside_any_message_byte_for_byte() -> None:
    names = [f"Given-{n}".encode() for n in range(5000)] + ["Zoé Ñandú".encode()]
    holds = holding_any(names)
    assert holds(b'{"note":"for Given-4999, thanks"}') and holds('{"n":"Zoé Ñandú"}'.encode())
    assert not holds(b'{"note":"Given-"}') and not holds(b"Zoe Nandu")
    assert not holding_any([])(b"anything")


def test_the_reason_check_fails_on_a_reason_in_words_and_counts_each_one() -> None:
    ids = {"subject_id": "vol-1", "application_id": "app-1"}
    coded = [
        ApplicationWithdrawn(**ids, producer="application", reason=ReasonCode.VOLUNTEER_WITHDREW),
        VettingRefused(**ids, producer="vetting", reasons=(check_failed(Check.MEDICAL), ReasonCode.TOO_OLD)),
    ]
    assert reasons_coded(history_of(*coded)).ok
    worded = VettingRefused(**ids, producer="vetting", reasons=(ReasonCode.TOO_OLD, "age 31 is above 30"))
    found = reasons_coded(history_of(*coded, worded))
    assert not found.ok and "5 reasons stated; 1 not a code (VettingRefused: 1)" in found.detail


def test_the_audit_dates_what_it_read_by_envols_own_topics_not_a_senders_clock() -> None:
    envols = [seen(Topic.APPLICATION_EVENTS, offset, AT) for offset in (3, 4)]
    senders = seen(Topic.APPLICATION_INTAKE, 0, AT)  # written at AT + 0 s by the sender's own clock
    since = History.of([senders, *envols]).since
    assert since is not None and EPOCH + dt.timedelta(microseconds=since) == AT + dt.timedelta(seconds=3)
    assert History.of([senders]).since is None


def test_a_seat_an_ended_mission_gave_back_may_be_proposed_again_without_breaking_the_seat_check() -> None:
    opening, registered = one_seat()
    first, second = proposal("app-1", "vol-1", "pl-1"), proposal("app-2", "vol-2", "pl-2")
    ended = msgspec.structs.replace(example(MissionEnded), application_id="app-1", placement_id="pl-1")
    assert seats_respected(history_of(opening, registered, first, ended, second), {}).ok
    assert not seats_respected(history_of(opening, registered, first, second), {}).ok  # the first holds it
    another = msgspec.structs.replace(ended, placement_id="pl-0")  # not its placement: placement refuses it
    assert not seats_respected(history_of(opening, registered, first, another, second), {}).ok


def test_a_seat_given_back_is_given_back_whichever_topic_is_read_first() -> None:
    """The read model reads the topics side by side: a mission's end (departure's topic) may be folded
    before the proposal it ends (placement's); the seat check counts over the records' times, not the
    order they were folded in."""
    opening, registered = one_seat()
    first = msgspec.structs.replace(
        example(PlacementProposed), application_id="app-1", subject_id="vol-1", opening_id="open-1",
        placement_id="pl-1",
    )  # fmt: skip
    second = msgspec.structs.replace(
        first, event_id="e-2", application_id="app-2", subject_id="vol-2", placement_id="pl-2"
    )
    ended = msgspec.structs.replace(example(MissionEnded), application_id="app-1", placement_id="pl-1")
    record = SimpleNamespace(key=b"k", value=b"", headers=())

    def at(second: int, event: Event, topic: Topic = Topic.PLACEMENT_EVENTS) -> Seen:
        return Seen(topic, 0, second, AT + dt.timedelta(seconds=second), record, event)

    placements = [at(0, opening, Topic.PLACEMENT_INTAKE), at(0, registered), at(1, first), at(3, second)]
    ended_at = at(2, ended, Topic.DEPARTURE_EVENTS)
    assert seats_respected(History.of([ended_at, *placements]), {}).ok  # the end folded first
    assert seats_respected(History.of([*placements, ended_at]), {}).ok
    too_late = at(4, ended, Topic.DEPARTURE_EVENTS)  # ended after the second was proposed
    check = seats_respected(History.of([too_late, *placements]), {})
    assert not check.ok and "over: ['open-1']" in check.detail


def test_an_effect_folded_before_its_cause_is_judged_when_the_cause_comes() -> None:
    fact = samples.submitted("app-1")
    cause = msgspec.structs.replace(received(fact), causation_id=fact.event_id)
    effect = msgspec.structs.replace(example(VettingCleared), causation_id=cause.event_id)
    record = SimpleNamespace(key=b"vol-1", value=b"", headers=())

    def logged(second: int, event: Event, topic: Topic) -> Seen:
        return Seen(topic, 0, second, AT + dt.timedelta(seconds=second), record, event)

    in_time = [logged(2, effect, Topic.VETTING_EVENTS), logged(1, cause, Topic.APPLICATION_EVENTS)]
    assert order_kept(History.of(in_time)).ok
    early = [logged(1, effect, Topic.VETTING_EVENTS), logged(2, cause, Topic.APPLICATION_EVENTS)]
    check = order_kept(History.of(early))
    assert not check.ok and "1 logged before their cause" in check.detail
    assert not order_kept(History.of(early[::-1])).ok  # the cause folded first: judged at once
    senders = [logged(1, cause, Topic.APPLICATION_EVENTS), logged(2, fact, Topic.APPLICATION_INTAKE)]
    assert order_kept(History.of(senders)).ok  # a fact's time is its sender's clock: not judged


def test_records_deleted_before_they_were_folded_are_counted_as_missed() -> None:
    record = SimpleNamespace(key=b"vol-1", value=b"", headers=())
    history = History()
    for partition, offset in ((0, 5), (0, 6), (1, 0), (0, 9), (1, 1)):  # 0-4 and 7-8 of partition 0 gone
        history.record(Seen(Topic.APPLICATION_EVENTS, partition, offset, AT, record, None))
    assert history.missed == 7 and history.records == 5
    starts = {f"{Topic.APPLICATION_EVENTS}:0": 3, f"{Topic.APPLICATION_EVENTS}:1": 4, "emptied:0": 2}
    assert history.unread(starts) == 7 + 2 + 2  # partition 1's records 2 and 3, the emptied partition's


def proposal(application: str, volunteer: str, placement: str, opening: str = "open-1") -> Event:
    fields = {"subject_id": volunteer, "opening_id": opening, "placement_id": placement}
    return msgspec.structs.replace(
        example(PlacementProposed), event_id=f"e-{placement}", application_id=application, **fields
    )


def in_one_millisecond(*events: Event) -> History:
    """Events logged in this order on one partition, all with the same timestamp (Kafka's are
    milliseconds, and a service sends a unit's outbox at once)."""
    return history_of(*events, apart=dt.timedelta(0))


def cancelled(placement: str) -> Event:
    return msgspec.structs.replace(
        example(PlacementCancelled), event_id=f"c-{placement}", placement_id=placement
    )


def test_reservations_logged_in_one_millisecond_are_counted_in_their_partitions_order() -> None:
    opening, registered = one_seat()
    a, b = proposal("app-1", "vol-1", "pl-1"), proposal("app-2", "vol-2", "pl-2")
    check = seats_respected(in_one_millisecond(opening, registered, a, b, cancelled("pl-1")), {})
    assert not check.ok and "over: ['open-1']" in check.detail  # two held at once, then one given back
    assert seats_respected(in_one_millisecond(opening, registered, a, cancelled("pl-1"), b), {}).ok
    twice = proposal("app-3", "vol-1", "pl-3")  # the same volunteer, by another application
    check = seats_respected(in_one_millisecond(opening, registered, a, twice, cancelled("pl-1")), {})
    assert not check.ok and "volunteers with two: 1" in check.detail


def test_an_opening_has_the_seats_of_the_publication_placement_registered_not_of_a_later_one() -> None:
    opening, registered = one_seat()
    forged = msgspec.structs.replace(
        samples.published(samples.opening("open-1", seats=9)), event_id="forged"
    )  # refused by placement: already registered
    a, b = proposal("app-1", "vol-1", "pl-1"), proposal("app-2", "vol-2", "pl-2")
    for order in ((opening, registered, forged, a, b), (registered, forged, opening, a, b)):
        check = seats_respected(in_one_millisecond(*order), {})
        assert not check.ok and "over: ['open-1']" in check.detail
    unknown = seats_respected(in_one_millisecond(a, b), {"open-1": 2})  # its publication never folded
    assert unknown.ok and "1 openings of unknown seats, not judged" in unknown.detail


def logged(*events: tuple[Topic, Event], key: bytes = b"vol-1") -> list[Seen]:
    """Events logged one millisecond apart on their topics, keyed by `key`."""
    record = SimpleNamespace(key=key, value=b"", headers=())
    return [
        Seen(topic, 0, n, AT + dt.timedelta(milliseconds=n), record, event)
        for n, (topic, event) in enumerate(events)
    ]


def guesses(*ids: str) -> set[bytes]:
    """Every digest of one to three parts a reader of a snapshot could make from guessed ids, the empty
    string, the topics' names and the outcomes' kinds."""
    parts = [*ids, "", *TOPICS, *OUTCOMES]
    found = {digest(a) for a in parts} | {digest(a, b) for a in parts for b in parts}
    return found | {digest(a, b, c) for a in parts for b in ids for c in (*ids, "")}


def test_an_erasure_gives_the_seat_back_and_leaves_no_trace_a_guessed_id_finds() -> None:
    opening, registered = one_seat()
    first = received(samples.submitted("app-1", volunteer_fields={"volunteer_id": "vol-1"}))
    again = msgspec.structs.replace(first, event_id="again")  # an outcome twice: an example in clear
    refused = refusal(
        samples.submitted("app-1"), "application", Party.HOST, "a late fact"
    )  # about no application
    held, other = proposal("app-1", "vol-1", "pl-1"), proposal("app-2", "vol-1", "pl-2")  # one volunteer
    erasures = [
        (topic, ErasureCompleted(subject_id="vol-1", producer=service, application_id="app-1"))
        for topic, service in ((Topic.APPLICATION_EVENTS, "application"), (Topic.VETTING_EVENTS, "vetting"),
                               (Topic.DEPARTURE_EVENTS, "departure"), (Topic.PLACEMENT_EVENTS, "placement"))
    ]  # fmt: skip
    erasures.append(
        (
            Topic.PLACEMENT_EVENTS,
            ErasureCompleted(subject_id="vol-1", producer="placement", application_id="app-2"),
        )
    )
    seen = logged(
        (Topic.PLACEMENT_INTAKE, opening), (Topic.PLACEMENT_EVENTS, registered),
        (Topic.APPLICATION_EVENTS, first), (Topic.APPLICATION_EVENTS, again),
        (Topic.APPLICATION_EVENTS, refused), (Topic.PLACEMENT_EVENTS, held), (Topic.PLACEMENT_EVENTS, other),
        *erasures,
    )  # fmt: skip
    before, history = History.of(seen[:-5]), History.of(seen)
    for found in (outcomes_once(before), outcomes_once(history)):
        assert not found.ok and "1 duplicated" in found.detail  # found before, and still after the erasure
    assert "app-1 ApplicationReceived" in outcomes_once(before).detail
    assert "volunteers with two: 1" in seats_respected(history, {}).detail  # counted under a token
    kept = msgspec.msgpack.encode(before)
    assert b"app-1" in kept and guesses("app-1", "vol-1") & set(before.latest)  # what the erasure takes
    kept = msgspec.msgpack.encode(history)
    assert b"app-" not in kept and b"vol-1" not in kept
    assert not [guess for guess in guesses("app-1", "app-2", "vol-1") if guess in kept]
    later = logged((Topic.PLACEMENT_EVENTS, proposal("app-3", "vol-3", "pl-3")), key=b"vol-3")
    assert History.of([*seen, *later]).peaks() == {"open-1": 2}  # placement's erasures gave both back
    assert History.of([*seen[:-2], *later]).peaks() == {"open-1": 3}  # without them, all three held


def test_a_history_begun_late_counts_what_its_read_model_folded_before_as_not_audited() -> None:
    begun = History.begun_at({f"{Topic.APPLICATION_EVENTS}:0": 40, f"{Topic.VETTING_EVENTS}:1": 2})
    record = SimpleNamespace(key=b"vol-1", value=b"", headers=())
    begun.record(Seen(Topic.APPLICATION_EVENTS, 0, 40, AT, record, None))
    assert begun.missed == 42 and begun.unread({f"{Topic.APPLICATION_EVENTS}:0": 0}) == 42


def test_a_dead_letter_written_again_below_an_erasures_cut_counts_once() -> None:
    origin = (("origin-topic", b"envol.application.intake.portal"), ("origin-partition", b"0"))
    why = (("error-class", b"ContractError"), ("error-reason", b"bad"))
    letter = SimpleNamespace(key=b"", value=b"x", headers=(*origin, ("origin-offset", b"7"), *why))
    other = SimpleNamespace(key=b"", value=b"x", headers=(*origin, ("origin-offset", b"8"), *why))
    letters = (letter, letter, other)  # the first written again by an erasure's purge
    history = History.of(Seen(Topic.DEAD_LETTER, 0, n, AT, r, None) for n, r in enumerate(letters))
    assert dead_letters_explained(history, 2).ok and not dead_letters_explained(history, 3).ok


def test_a_seat_given_back_and_proposed_again_in_one_millisecond_on_two_partitions_is_not_over() -> None:
    """Placement cancels A's proposal and proposes the freed seat to B in one unit: two records of one
    millisecond on two partitions (keyed by each volunteer), which have no order between them."""
    opening, registered = one_seat()
    a, b = proposal("app-1", "vol-1", "pl-1"), proposal("app-2", "vol-2", "pl-2")
    record = SimpleNamespace(key=b"k", value=b"", headers=())

    def on(partition: int, offset: int, millis: int, event: Event) -> Seen:
        at = AT + dt.timedelta(milliseconds=millis)
        return Seen(Topic.PLACEMENT_EVENTS, partition, offset, at, record, event)

    start = [on(0, 0, 0, opening), on(0, 1, 0, registered), on(1, 0, 1, a)]
    assert seats_respected(History.of([*start, on(0, 2, 5, b), on(1, 1, 5, cancelled("pl-1"))]), {}).ok
    stepped_back = [*start[:2], on(1, 0, 10, a), on(1, 1, 9, cancelled("pl-1")), on(0, 2, 12, b)]  # a clock
    assert seats_respected(History.of(stepped_back), {}).ok  # the cancellation is A's, after it


def test_a_publication_counts_for_the_host_that_sent_it_and_the_opening_it_names() -> None:
    """Placement registers the publication its registration names: an intake's id is its sender's own, so
    the opening named counts too, and a publication from a sender that may not speak for the host (a
    partner for another host) counts for nothing, whatever order they are read in."""
    opening, registered = one_seat()
    npc, ird = (next(p for p in PARTNERS if p.id == name) for name in ("npc", "ird"))
    theirs = samples.opening("open-2", seats=1)
    other = msgspec.structs.replace(
        samples.published(msgspec.structs.replace(theirs, host_organisation=npc.organisation)),
        event_id=opening.event_id,
    )  # npc's own opening, under the same id on its own topic
    forged = msgspec.structs.replace(opening, opening=msgspec.structs.replace(opening.opening, seats=9))
    written = [
        (partner_intake("placement", principal_of(npc)), other),
        (partner_intake("placement", principal_of(ird)), forged),  # ird speaks for another host
        (Topic.PLACEMENT_EVENTS, registered),
        (Topic.PLACEMENT_INTAKE, opening),
    ]
    for order in (written, written[::-1]):
        record = SimpleNamespace(key=b"k", value=b"", headers=())
        history = History.of(Seen(t, 0, n, AT, record, e) for n, (t, e) in enumerate(order))
        assert history.seats == {"open-1": 1}
