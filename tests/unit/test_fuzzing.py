"""Where the real-server fuzz check looks for a decodable input's effect: the aggregate that keeps it."""

from __future__ import annotations

from services.simulator.fuzzing import Sent, _sent
from shared import samples
from shared.contracts.codec import encode
from shared.contracts.envelope import Event
from shared.contracts.intake import intake_of
from shared.contracts.topics import Topic
from tests.hostile_inputs import Hostile


def sent(fact: Event) -> Sent:
    return _sent(Hostile(intake_of(fact), fact.subject_id.encode(), encode(fact), "valid"), ("t", 0, 0))


def test_an_erasure_request_is_looked_for_where_the_application_service_notes_it_by_volunteer() -> None:
    request = samples.erasure("vol-7")
    assert sent(request) == Sent(("t", 0, 0), ("application", "erasures", "vol-7"), request.identity)


def test_a_submission_is_looked_for_in_its_application_and_an_opening_in_the_opening() -> None:
    submitted, opening = samples.submitted(), samples.opening("open-9")
    assert sent(submitted).effect == ("application", "applications", submitted.application_id)
    assert sent(samples.published(opening)).effect == ("placement", "openings", "open-9")


def test_bytes_that_do_not_decode_name_no_effect() -> None:
    latin1 = Hostile(Topic.APPLICATION_INTAKE, b"k", b"\xe9", "latin-1")
    assert _sent(latin1, ("t", 0, 1)) == Sent(("t", 0, 1), None, None)
