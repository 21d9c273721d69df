"""The operators' console: its read model folds any record of any topic, and its pages show the funnel, a
timeline, openings and dead letters, escape what outsiders wrote, show no personal data, and replay only
what may be replayed, once confirmed from the console's own page."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from services.cli.deadletters import DeadLetter, as_dead_letter
from services.cli.reading import as_seen
from services.console import app as console_app
from services.console.app import create_console
from services.console.view import View
from services.grants import SERVICES
from shared import samples
from shared.contracts.application import ErasureCompleted
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.topics import Topic
from shared.settings import Settings
from tests.hostile import HOSTILE_HEADERS, hostile_values, record

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


def event_of(topic: Topic, event_type: str) -> Event:
    from tests.examples import EXAMPLES

    return next(e for t, e in EXAMPLES if t == topic and e.event_type == event_type)


def fold(view: View, topic: str, value: bytes | None, offset: int, **extra: Any) -> None:
    view.apply(as_seen(SETTINGS, record(topic, value, offset=offset, **extra)))


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
    app = create_console(SETTINGS, follow=False)
    view: View = app.state.console.view
    for offset, (topic, event_type) in enumerate(LIFECYCLE):
        fold(view, topic, encode(event_of(topic, event_type)), offset)
    for offset, origin in enumerate((Topic.APPLICATION_INTAKE, Topic.VETTING_EVENTS)):
        letter = hostile_letter(origin, offset)
        headers = [(name, value.encode()) for name, value in letter.headers.items()]
        fold(view, Topic.DEAD_LETTER, letter.value, offset, headers=headers)
    return TestClient(app)


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
    app = create_console(SETTINGS, follow=False)
    console = app.state.console
    page = TestClient(app).get("/volunteers", params={"q": "app-1"})
    assert 'data-updates="/updates?q=app-1"' in page.text and "None yet" in page.text
    for offset, (topic, event_type) in enumerate(LIFECYCLE[:1]):
        fold(console.view, topic, encode(event_of(topic, event_type)), offset)
    assert 'href="/volunteers/app-1"' in console.sections(query="app-1")["found"]  # what the stream sends


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
    ours = {"origin": "http://testserver"}
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


def test_an_erased_volunteer_is_forgotten_counted_as_erased_and_their_seat_freed_whatever_the_order() -> None:
    view = lifecycle_view()
    scheme = view.volunteers["app-1"].scheme
    erased = {p: ErasureCompleted(subject_id="vol-1", producer=p, application_id="app-1") for p in SERVICES}
    fold(view, Topic.APPLICATION_EVENTS, encode(erased["application"]), 60)
    assert "app-1" not in view.volunteers and view.search("app-1") == []
    assert view.open_openings()[0].held == set()
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
