"""The operators' console: its read model folds any record of any topic, and its pages show the funnel, a
timeline, openings and dead letters, escape what outsiders wrote, show no personal data, and replay only
what may be replayed, once confirmed from the console's own page."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from services.cli import reading
from services.cli.app import cli
from services.cli.deadletters import DeadLetter, as_dead_letter, replay_header
from services.cli.reading import Seen, as_seen
from services.console import app as console_app
from services.console.access import LOCK_SECONDS, SESSION_SECONDS, Access, NoOperatorsError
from services.console.app import create_console, safe_target
from services.console.view import MAX_CLAIMS, View
from services.grants import SERVICES
from shared import samples
from shared.contracts.application import ErasureCompleted
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.settings import Settings
from tests.hostile import HOSTILE_HEADERS, hostile_values, record
from tests.read_model import keep_read_model

SETTINGS = Settings()
LIFECYCLE = [  # (topic, event type) of one volunteer's way to arrival, as the topics hold it
    (Topic.APPLICATION_INTAKE, "ApplicationSubmitted"),
    (Topic.APPLICATION_EVENTS, "ApplicationReceived"),
    (Topic.VETTING_EVENTS, "VettingCleared"),
    (Topic.PLACEMENT_INTAKE, "OpeningPublished"),
    (Topic.PLACEMENT_EVENTS, "OpeningRegistered"),
    (Topic.PLACEMENT_EVENTS, "PlacementProposed"),
    (Topic.PLACEMENT_EVENTS, "PlacementConfirmed"),
    (Topic.DEPARTURE_EVENTS, "ContractSigned"),
    (Topic.DEPARTURE_EVENTS, "VolunteerDeparted"),
    (Topic.DEPARTURE_EVENTS, "ArrivalConfirmed"),
]
SCRIPT = "<script>alert('x')</script>"
OPERATORS = {"ana": "a-long-password-of-ana", "bob": "a-long-password-of-bob"}
OURS = {"origin": "http://testserver"}


def signed_in(app: Any) -> TestClient:
    """A client of `app` signed in as an operator (the cookie kept by the client)."""
    client = TestClient(app)
    done = client.post("/login", data={"name": "ana", "password": OPERATORS["ana"]}, headers=OURS,
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    return client


def console(**options: Any) -> Any:
    return create_console(SETTINGS, follow=False, access=Access(OPERATORS), **options)


def event_of(topic: Topic, event_type: str) -> Event:
    from tests.examples import EXAMPLES

    event = next(e for t, e in EXAMPLES if t == topic and e.event_type == event_type)
    if event_type == "OpeningPublished":  # the host's own fact, keyed by its opening
        return msgspec.structs.replace(event, subject_id=event.opening.opening_id)  # type: ignore[attr-defined]
    if event_type == "OpeningRegistered":  # placement registers the lifecycle's publication
        publication = event_of(Topic.PLACEMENT_INTAKE, "OpeningPublished")
        return msgspec.structs.replace(event, causation_id=publication.event_id)
    return event


def seen_of(topic: str, value: bytes | None, offset: int, **extra: Any) -> Seen:
    """A record as the tools see it; keyed by its subject, as a service's or a sender's record is, unless
    `key` is given."""
    if "key" not in extra:
        extra["key"] = subject_key(value)
    return as_seen(SETTINGS, record(topic, value, offset=offset, **extra))


def fold(view: View, topic: str, value: bytes | None, offset: int, **extra: Any) -> None:
    view.apply(seen_of(topic, value, offset, **extra))


def subject_key(value: bytes | None) -> bytes | None:
    try:
        return str(msgspec.json.decode(value or b"")["subject_id"]).encode()
    except (ValueError, KeyError, TypeError, RecursionError):  # not JSON, not UTF-8, too deep, no subject
        return None


def lifecycle_view() -> View:
    view = View()
    for offset, (topic, event_type) in enumerate(LIFECYCLE):
        fold(view, topic, encode(event_of(topic, event_type)), offset)
    return view


def test_one_lifecycle_folds_into_its_stage_scheme_timeline_and_seat() -> None:
    view = lifecycle_view()
    volunteer = view.volunteers["app-1"]
    assert volunteer.stage == "9 arrived"
    assert volunteer.scheme == str(samples.wishes().scheme)
    assert [s.event_type for s in volunteer.steps] == [
        t for _, t in LIFECYCLE if t not in ("OpeningPublished", "OpeningRegistered")
    ]
    (opening,) = view.open_openings()
    assert (opening.opening_id, opening.held, opening.seats) == ("open-1", {"pl-1"}, 2)
    stages, schemes, counts = view.funnel()
    assert (stages, schemes) == (["9 arrived"], [volunteer.scheme]) and counts[
        ("9 arrived", volunteer.scheme)
    ] == 1


def test_a_copy_of_an_event_is_folded_once_and_a_cancellation_frees_its_seat() -> None:
    view = lifecycle_view()
    arrived = encode(event_of(Topic.DEPARTURE_EVENTS, "ArrivalConfirmed"))
    fold(view, Topic.DEPARTURE_EVENTS, arrived, 50)
    assert len(view.volunteers["app-1"].steps) == len(LIFECYCLE) - 2
    fold(view, Topic.PLACEMENT_EVENTS, encode(event_of(Topic.PLACEMENT_EVENTS, "PlacementCancelled")), 51)
    assert view.open_openings()[0].held == set()


def test_any_bytes_on_any_topic_fold_without_error_and_make_no_volunteer() -> None:
    view = View()
    for topic in Topic:
        for offset, (_, value) in enumerate(hostile_values()):
            fold(view, topic, value, offset, headers=HOSTILE_HEADERS)
    assert view.volunteers == {} and view.unreadable == 0
    letters = view.pending_letters()
    assert len(letters) == len(hostile_values())  # every record of the dead-letter topic is listed
    assert all(
        "\x1b" not in letter.origin_position and "\xff" not in letter.origin_topic for letter in letters
    )


def hostile_letter(origin: Topic, offset: int = 0) -> DeadLetter:
    headers = [("origin-topic", origin.value.encode()), ("origin-partition", b"0"), ("origin-offset", b"7"),
               ("error-class", b"ContractError"), ("error-reason", SCRIPT.encode())]  # fmt: skip
    return as_dead_letter(0, offset, b"vol-1", b'{"not": "an event"}', headers)


@pytest.fixture
def client() -> TestClient:
    app = console()
    view: View = app.state.console.view
    for offset, (topic, event_type) in enumerate(LIFECYCLE):
        fold(view, topic, encode(event_of(topic, event_type)), offset)
    for offset, origin in enumerate((Topic.APPLICATION_INTAKE, Topic.VETTING_EVENTS)):
        letter = hostile_letter(origin, offset)
        headers = [(name, value.encode()) for name, value in letter.headers.items()]
        fold(view, Topic.DEAD_LETTER, letter.value, offset, headers=headers)
    return signed_in(app)


def test_the_overview_shows_the_funnel_openings_and_dead_letters_escaped(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert 'data-stage="9 arrived"' in html and "open-1" in html and "1 of 2" in html
    assert SCRIPT not in html and "&lt;script&gt;" in html  # what an outsider wrote is text, never markup
    assert 'href="/dead-letters/0:0"' in html  # from an intake topic: replayable
    assert "not replayable: envol.vetting.events is not an intake topic" in html
    assert "default-src 'self'" in page.headers["content-security-policy"]
    volunteer = samples.volunteer()
    for personal in (volunteer.given_name, volunteer.family_name, volunteer.email, str(volunteer.birth_date)):
        assert personal not in html


def test_search_and_timeline(client: TestClient) -> None:
    found = client.get("/volunteers", params={"q": "APP-"})
    assert 'href="/volunteers/app-1"' in found.text
    timeline = client.get("/volunteers/app-1")
    assert timeline.status_code == 200
    assert "ArrivalConfirmed" in timeline.text and 'data-updates="/updates?volunteer=app-1"' in timeline.text
    assert client.get("/volunteers/nobody").status_code == 404


def test_a_search_made_before_the_volunteer_arrives_lists_them_live() -> None:
    app = console()
    page = signed_in(app).get("/volunteers", params={"q": "app-1"})
    assert 'data-updates="/updates?q=app-1"' in page.text and "None yet" in page.text
    for offset, (topic, event_type) in enumerate(LIFECYCLE[:1]):
        fold(app.state.console.view, topic, encode(event_of(topic, event_type)), offset)
    assert 'href="/volunteers/app-1"' in app.state.console.sections(query="app-1")["found"]  # as streamed


def test_a_replay_needs_a_confirmation_from_the_consoles_page_and_an_intake_origin(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    letters = {0: hostile_letter(Topic.APPLICATION_INTAKE, 0), 1: hostile_letter(Topic.VETTING_EVENTS, 1)}
    replayed: list[DeadLetter] = []

    async def at(_: Settings, partition: int, offset: int) -> DeadLetter | None:
        return letters.get(offset) if partition == 0 else None

    async def replay(_: Settings, chosen: list[DeadLetter]) -> None:
        replayed.extend(chosen)

    monkeypatch.setattr(console_app, "dead_letter_at", at)
    monkeypatch.setattr(console_app, "replay", replay)
    ours = OURS
    confirm = client.get("/dead-letters/0:0")
    assert confirm.status_code == 200 and 'name="confirm" value="replay"' in confirm.text
    assert (
        client.post(
            "/dead-letters/0:0", data={"confirm": "replay"}, headers={"origin": "http://evil"}
        ).status_code
        == 403
    )
    assert client.post("/dead-letters/0:0", data={}, headers=ours).status_code == 400
    assert client.post("/dead-letters/0:1", data={"confirm": "replay"}, headers=ours).status_code == 400
    assert client.get("/dead-letters/9:9").status_code == 404
    assert client.get("/dead-letters/not-a-position").status_code == 404
    assert replayed == []
    done = client.post("/dead-letters/0:0", data={"confirm": "replay"}, headers=ours, follow_redirects=False)
    assert done.status_code == 303 and replayed == [letters[0]]


def test_a_withdrawals_own_words_stay_on_the_portals_topic_never_in_the_read_model() -> None:
    view = lifecycle_view()
    words = "I am expecting a child and must stay home"
    withdrawal = msgspec.structs.replace(samples.withdrawal(samples.submitted()), reason=words)
    fold(view, Topic.APPLICATION_INTAKE, encode(withdrawal), 70)
    assert view.volunteers["app-1"].steps[-1].event_type == "WithdrawalRequested"
    assert words.encode() not in view.snapshot() and b"expecting" not in view.snapshot()


def test_a_fact_its_service_sets_aside_is_not_folded_and_does_not_hide_the_one_it_applies() -> None:
    """The read model reads an intake as the services do (`decode_sent`): a fact under another key, or for
    a party its topic's sender may not speak for, is no event; a later valid fact with its event id is."""
    view = lifecycle_view()
    steps = len(view.volunteers["app-1"].steps)
    answer = msgspec.structs.replace(event_of(Topic.PLACEMENT_INTAKE, "PlacementAnswered"), event_id="answer")
    as_volunteer = msgspec.structs.replace(answer, party="volunteer", accepted=False)
    fold(view, Topic.PLACEMENT_INTAKE, encode(as_volunteer), 80)  # the host may speak only as the host
    fold(view, Topic.PLACEMENT_INTAKE, encode(answer), 81, key=b"another-key")
    assert len(view.volunteers["app-1"].steps) == steps and set(view.volunteers) == {"app-1"}
    fold(view, Topic.PLACEMENT_INTAKE, encode(answer), 82)
    assert len(view.volunteers["app-1"].steps) == steps + 1

    published = event_of(Topic.PLACEMENT_INTAKE, "OpeningPublished")
    opening = published.opening  # type: ignore[attr-defined]
    bigger = msgspec.structs.replace(published, opening=msgspec.structs.replace(opening, seats=500))
    other = View()
    fold(other, Topic.PLACEMENT_INTAKE, encode(bigger), 0, key=b"vol-1")  # set aside: not its opening's key
    for offset, (topic, event_type) in enumerate(LIFECYCLE, start=1):
        fold(other, topic, encode(event_of(topic, event_type)), offset)
    assert [o.seats for o in other.open_openings()] == [opening.seats]


def fold_letter(view: View, letter: DeadLetter, offset: int) -> None:
    headers = [(name, value.encode()) for name, value in letter.headers.items()]
    fold(view, Topic.DEAD_LETTER, letter.value, offset, key=letter.key, headers=headers)


def replay_of(position: str) -> list[tuple[str, bytes | None]]:
    return [replay_header(position)]


@pytest.mark.parametrize("letter_first", [True, False])
def test_only_a_record_carrying_the_letters_own_bytes_on_its_own_topic_takes_it_off_the_pending_list(
    letter_first: bool,
) -> None:
    """Any sender may write a `replayed-from` header: on another topic, with other bytes or another key, or
    on the letter's original itself (a copy sent before it) it hides nothing; the letter's own key and bytes
    on its origin topic, written after it, are its replay, whoever sent them."""
    letter = hostile_letter(Topic.PLACEMENT_INTAKE_PORTAL)  # its original: partition 0, offset 7
    forgeries = [
        (Topic.APPLICATION_INTAKE, letter.key, letter.value, 10),  # another topic
        (Topic.PLACEMENT_INTAKE_PORTAL, letter.key, b'{"other": "bytes"}', 11),
        (Topic.PLACEMENT_INTAKE_PORTAL, b"vol-2", letter.value, 12),  # another key
        (Topic.PLACEMENT_INTAKE_PORTAL, None, letter.value, 13),
        (Topic.PLACEMENT_INTAKE_PORTAL, letter.key, letter.value, 7),  # the original, naming its letter
        (Topic.PLACEMENT_INTAKE_PORTAL, letter.key, letter.value, 6),  # a copy before it
        (Topic.PLACEMENT_EVENTS, letter.key, letter.value, 14),  # no intake
    ]
    view = View()
    if letter_first:
        fold_letter(view, letter, 0)
    for topic, key, value, offset in forgeries:
        fold(view, topic, value, offset, key=key, headers=replay_of("0:0"))
    if not letter_first:
        fold_letter(view, letter, 0)
    assert [p.position for p in view.pending_letters()] == ["0:0"]
    assert [p.position for p in View.restored(view.snapshot()).pending_letters()] == ["0:0"]
    fold(view, Topic.PLACEMENT_INTAKE_PORTAL, letter.value, 20, key=letter.key, headers=replay_of("0:1"))
    assert [p.position for p in view.pending_letters()] == ["0:0"]  # it names another letter
    fold(view, Topic.PLACEMENT_INTAKE_PORTAL, letter.value, 21, key=letter.key, headers=replay_of("0:0"))
    assert view.pending_letters() == []


def test_a_replayed_from_header_that_names_no_letter_position_is_not_kept() -> None:
    view = View()
    odd = [b"x" * 200_000, b"0:0", "envol.dead-letter:٣:٣".encode(), b"envol.dead-letter:0:0" + b"0" * 100,
           b"envol.dead-letter:0:0 "]  # fmt: skip
    for offset, named in enumerate(odd):
        fold(view, Topic.APPLICATION_INTAKE, b"{}", offset, headers=[("replayed-from", named)])
    assert view.replays == {}
    fold(view, Topic.APPLICATION_INTAKE, b"{}", 9, headers=replay_of("12:345"))
    assert list(view.replays) == ["12:345"]


def test_a_snapshot_saved_before_replays_were_checked_keeps_what_it_counted_replayed() -> None:
    """Its letters have no fingerprint: a header names them replayed, as it did when they were folded."""
    view = View()
    for offset in (0, 1, 2):
        fold_letter(view, hostile_letter(Topic.APPLICATION_INTAKE, offset), offset)
    fields = msgspec.msgpack.decode(view.snapshot())
    for letter in fields["letters"].values():
        del letter["fingerprint"]
    fields["replayed"] = ["0:0"]
    older = View.restored(msgspec.msgpack.encode(fields))
    assert {p.position for p in older.pending_letters()} == {"0:1", "0:2"}
    fold(older, Topic.VETTING_INTAKE, b"anything", 8, headers=replay_of("0:1"))  # not its origin topic
    fold(older, Topic.APPLICATION_INTAKE, b"anything", 5, headers=replay_of("0:1"))  # before its original
    assert {p.position for p in older.pending_letters()} == {"0:1", "0:2"}
    fold(older, Topic.APPLICATION_INTAKE, b"anything", 8, headers=replay_of("0:1"))
    assert {p.position for p in older.pending_letters()} == {"0:2"}
    fields["replayed"] = ["0:0", "not a position", "9:9"]  # an older view kept any header's text
    assert View.restored(msgspec.msgpack.encode(fields)).replayed == {"0:0"}


def test_a_flood_of_claims_leaves_a_letter_listed_and_keeps_a_bounded_number() -> None:
    letter = hostile_letter(Topic.APPLICATION_INTAKE)
    view = View()
    fold_letter(view, letter, 0)
    for offset in range(10, 60):
        fold(view, Topic.APPLICATION_INTAKE, b"junk", offset, key=letter.key, headers=replay_of("0:0"))
    fold(view, Topic.APPLICATION_INTAKE, letter.value, 70, key=letter.key, headers=replay_of("0:0"))
    assert len(view.replays["0:0"]) == MAX_CLAIMS and [p.position for p in view.pending_letters()] == ["0:0"]


def test_an_older_snapshots_withdrawal_words_are_hidden_when_restored() -> None:
    view = lifecycle_view()
    fields = msgspec.msgpack.decode(view.snapshot())
    words = "application_id=app-1 reason=I am expecting a child"
    step = {"at": fields["volunteers"]["app-1"]["steps"][0]["at"], "topic": "application.intake.portal",
            "event_type": "WithdrawalRequested", "detail": words}  # fmt: skip
    fields["volunteers"]["app-1"]["steps"].append(step)
    restored = View.restored(msgspec.msgpack.encode(fields))
    assert restored.volunteers["app-1"].steps[-1].detail == "application_id=app-1 reason=(hidden)"
    assert b"expecting" not in restored.snapshot()


def test_a_seat_a_mission_gave_back_is_free_even_when_its_end_is_read_before_its_proposal() -> None:
    """The console reads the topics side by side: rebuilding from the start, departure's topic may be read
    ahead of placement's."""
    view = View()
    for offset, (topic, event_type) in enumerate(LIFECYCLE):
        if event_type != "PlacementProposed":
            fold(view, topic, encode(event_of(topic, event_type)), offset)
    ended = msgspec.structs.replace(
        event_of(Topic.DEPARTURE_EVENTS, "MissionEnded"), placement_id="pl-1", application_id="app-1"
    )
    months_later = 1_767_261_600_000 + 200 * 86_400_000  # the records' times: `tests.hostile.record`
    fold(view, Topic.DEPARTURE_EVENTS, encode(ended), 90, timestamp=months_later)
    assert view.open_openings()[0].held == set()
    fold(view, Topic.PLACEMENT_EVENTS, encode(event_of(Topic.PLACEMENT_EVENTS, "PlacementProposed")), 91)
    assert view.open_openings()[0].held == set()  # its end came after it: the seat is free


def test_an_erased_volunteer_is_forgotten_counted_as_erased_and_their_seat_freed_whatever_the_order() -> None:
    view = lifecycle_view()
    scheme = view.volunteers["app-1"].scheme
    erased = {p: ErasureCompleted(subject_id="vol-1", producer=p, application_id="app-1") for p in SERVICES}
    fold(view, Topic.APPLICATION_EVENTS, encode(erased["application"]), 60)
    assert "app-1" not in view.volunteers and view.search("app-1") == []
    assert view.open_openings()[0].held == {"pl-1"}  # until placement's erasure gives the seat back
    # records of theirs from partitions read later: no volunteer again, and the seat freed in the end
    proposed = msgspec.structs.replace(
        event_of(Topic.PLACEMENT_EVENTS, "PlacementProposed"), event_id="again"
    )
    fold(view, Topic.PLACEMENT_EVENTS, encode(proposed), 61)
    fold(view, Topic.DEPARTURE_EVENTS, encode(event_of(Topic.DEPARTURE_EVENTS, "ContractSigned")), 62)
    assert "app-1" not in view.volunteers
    fold(view, Topic.PLACEMENT_EVENTS, encode(erased["placement"]), 63)
    assert view.open_openings()[0].held == set()
    fold(view, Topic.VETTING_EVENTS, encode(erased["vetting"]), 64)
    stages, _, counts = view.funnel()
    assert stages == ["x erased"] and counts[("x erased", scheme)] == 1  # once, not once per service


def test_nobody_signed_out_sees_a_page_a_stream_or_replays_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    replayed: list[Any] = []

    async def replay(_: Settings, chosen: list[DeadLetter]) -> None:
        replayed.extend(chosen)

    monkeypatch.setattr(console_app, "replay", replay)
    anonymous = TestClient(console())
    for path in ("/", "/volunteers?q=app", "/volunteers/app-1", "/dead-letters/0:0"):
        sent = anonymous.get(path, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"].startswith("/login?next=%2F"), path
    assert anonymous.get("/updates").status_code == 401
    posted = anonymous.post(
        "/dead-letters/0:0", data={"confirm": "replay"}, headers=OURS, follow_redirects=False
    )
    assert posted.status_code == 303 and replayed == []
    assert anonymous.get("/health").status_code == 200 and anonymous.get("/login").status_code == 200


def test_a_wrong_password_a_forged_or_expired_session_and_a_foreign_form_are_refused() -> None:
    now = [1_000_000.0]
    access = Access(OPERATORS, clock=lambda: now[0])
    client = TestClient(create_console(SETTINGS, follow=False, access=access))
    wrong = client.post("/login", data={"name": "ana", "password": "guess"}, headers=OURS)
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    foreign = {"origin": "http://evil.example"}
    sent = client.post("/login", data={"name": "ana", "password": OPERATORS["ana"]}, headers=foreign)
    assert sent.status_code == 401 and "envol_session" not in client.cookies
    session = access.sign_in("ana", OPERATORS["ana"])
    assert session is not None and access.operator(session) == "ana"
    _, expiry, signature = session.split(".")
    assert access.operator(f"bob.{expiry}.{signature}") is None  # another name under ana's signature
    assert access.operator(f"ana.{int(expiry) + 9999}.{signature}") is None  # a longer life
    assert access.operator("ana") is None and access.operator(None) is None
    now[0] += SESSION_SECONDS
    assert access.operator(session) is None  # expired
    assert Access(OPERATORS).operator(session) is None  # another process's key (a restart)


def test_five_wrong_passwords_lock_the_name_for_a_minute() -> None:
    now = [0.0]
    access = Access(OPERATORS, clock=lambda: now[0])
    for _ in range(5):
        assert access.sign_in("ana", "guess") is None
    assert access.sign_in("ana", OPERATORS["ana"]) is None  # locked, even with the right password
    now[0] += LOCK_SECONDS
    assert access.sign_in("ana", OPERATORS["ana"]) is not None


def test_once_signed_in_the_operator_goes_back_where_they_were_and_nowhere_else() -> None:
    assert safe_target("/volunteers/app-1") == "/volunteers/app-1"
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example", "", None):
        assert safe_target(elsewhere) == "/"
    client = TestClient(console())
    ana = {"name": "ana", "password": OPERATORS["ana"]}
    done = client.post("/login?next=%2Fvolunteers%3Fq%3Dapp", data=ana, headers=OURS, follow_redirects=False)
    assert done.headers["location"] == "/volunteers?q=app"
    assert (
        "httponly" in done.headers["set-cookie"].lower()
        and "samesite=strict" in done.headers["set-cookie"].lower()
    )
    assert client.get("/", follow_redirects=False).status_code == 200
    client.post("/logout", headers=OURS)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_console_does_not_start_without_operators(tmp_path: Any) -> None:
    with pytest.raises(NoOperatorsError, match="ENVOL_CONSOLE_PASSWORDS"):
        create_console(SETTINGS, follow=False)
    empty = tmp_path / "console-passwords"
    empty.write_text("")
    with pytest.raises(NoOperatorsError):
        create_console(msgspec.structs.replace(SETTINGS, console_passwords_file=str(empty)), follow=False)
    short = tmp_path / "short"
    short.write_text("ana secret\n")
    with pytest.raises(NoOperatorsError, match="shorter than 16 characters, for ana"):
        create_console(msgspec.structs.replace(SETTINGS, console_passwords_file=str(short)), follow=False)
    local = msgspec.structs.replace(SETTINGS, console_passwords_file=str(short), mode="local")
    assert create_console(local, follow=False)  # a local stack may keep a short one


def test_a_malformed_session_cookie_is_sent_to_sign_in_never_an_error() -> None:
    access = Access(OPERATORS)
    session = access.sign_in("ana", OPERATORS["ana"])
    assert session is not None
    _, expiry, signature = session.split(".")
    odd = ["ana." + "9" * 5000 + "." + signature, f"ana.{expiry}.{'z' * 64}", "ana..", "..", "ana", ""]
    client = TestClient(create_console(SETTINGS, follow=False, access=access))
    for cookie in odd:
        client.cookies.set("envol_session", cookie)
        assert client.get("/", follow_redirects=False).status_code == 303, cookie[:80]
    # bytes a raw client may send (the server reads headers as Latin-1): no error either
    for cookie in (f"ana.{expiry}.{'é' * 64}", "ana.²³." + signature):
        assert access.operator(cookie) is None
    client.cookies.set("envol_session", session)
    assert client.get("/", follow_redirects=False).status_code == 200


def test_a_signed_out_session_is_over_for_its_copies_too_and_odd_names_are_refused() -> None:
    access = Access(OPERATORS)
    session = access.sign_in("ana", OPERATORS["ana"])
    other = access.sign_in("bob", OPERATORS["bob"])
    access.sign_out(session)
    assert access.operator(session) is None and access.operator(other) == "bob"
    with pytest.raises(NoOperatorsError, match="names are letters"):
        Access({"Łukasz": "a-long-password-of-his"})


def test_envol_timeline_shows_from_the_read_model_what_retention_deleted_until_the_volunteer_is_erased(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = lifecycle_view()  # a snapshot holds the lifecycle; the topics hold nothing any more

    async def no_records(*_: Any, **__: Any) -> Any:
        return
        yield

    monkeypatch.setattr(reading, "records", no_records)
    keep_read_model(monkeypatch, view)

    def timeline(*flags: str) -> tuple[int, list[Any]]:
        ran = CliRunner().invoke(cli, ["timeline", "vol-1", "--json", *flags])
        return ran.exit_code, json.loads(ran.stdout)

    code, lines = timeline()
    assert code == 0
    shown = [t for _, t in LIFECYCLE if t not in ("OpeningPublished", "OpeningRegistered")]
    assert [line["event_type"] for line in lines] == shown
    assert {line["subject_id"] for line in lines} == {"vol-1"}
    assert timeline("--sensitive") == (1, [])  # details only the topics hold: gone with them

    fold(view, Topic.APPLICATION_EVENTS, encode(samples.erasure_completed(samples.submitted())), 90)
    assert timeline() == (1, []) and view.applications_of("vol-1") == []


def test_only_envols_own_topics_tell_the_read_model_whose_application_it_is() -> None:
    view = lifecycle_view()
    answered = msgspec.structs.replace(
        event_of(Topic.PLACEMENT_INTAKE, "PlacementAnswered"), subject_id="vol-x"
    )
    fold(view, Topic.PLACEMENT_INTAKE, encode(answered), 60)  # a sender's claim about app-1: refused
    assert view.applications_of("vol-x") == [] and view.applications_of("vol-1") == ["app-1"]
    assert view.unattributed == 0


def test_a_timeline_reads_the_topics_for_applications_an_older_read_model_cannot_attribute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = lifecycle_view()
    view.volunteers["app-1"].volunteer_id = ""  # folded by a version that kept no volunteer ids
    later = event_of(Topic.APPLICATION_EVENTS, "ApplicationWithdrawn")
    kept = [record(Topic.APPLICATION_EVENTS, encode(later), offset=5, key=b"vol-1")]

    async def records(*_: Any, starting: Any = None, **__: Any) -> Any:
        for item in [] if starting else kept:  # the snapshot is past them: only a whole read finds them
            yield item

    monkeypatch.setattr(reading, "records", records)
    keep_read_model(monkeypatch, view, {"envol.application.events:0": 6})
    ran = CliRunner().invoke(cli, ["timeline", "vol-1", "--json"])
    assert ran.exit_code == 0
    assert "ApplicationWithdrawn" in [line["event_type"] for line in json.loads(ran.stdout)]
