"""The integrators' guide's examples (docs/examples/<topic>/) are facts their topic accepts, keyed by their
subject as the guide says, and each file the guide names exists; its tables of what each intake topic takes
and each events topic carries are the contracts'."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest

from shared.contracts.codec import UNION_OF_TOPIC, decode_sent
from shared.contracts.intake import SHARED_INTAKES
from shared.contracts.topics import Topic

ROOT = Path(__file__).resolve().parents[2]
EVENTS_TOPICS = (
    Topic.APPLICATION_EVENTS,
    Topic.VETTING_EVENTS,
    Topic.PLACEMENT_EVENTS,
    Topic.DEPARTURE_EVENTS,
)
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*/*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_is_a_fact_its_topic_accepts(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    event = decode_sent(path.parent.name, body["subject_id"].encode(), path.read_bytes())
    assert event.event_type == path.stem.split("-", 1)[1]


def test_every_example_the_guide_names_exists_and_every_example_is_named() -> None:
    guide = (ROOT / "docs" / "integrators.md").read_text(encoding="utf-8")
    named = set(re.findall(r"docs/examples/([\w.-]+/\d\d-\w+\.json)", guide))
    files = {str(p.relative_to(ROOT / "docs" / "examples")) for p in EXAMPLES}
    assert len(files) == 25 and named <= files, sorted(named - files)


def table_rows(heading: str) -> list[list[str]]:
    """The rows of the first table under `heading` in the guide, as cells (the header and rule left out)."""
    guide = (ROOT / "docs" / "integrators.md").read_text(encoding="utf-8")
    section = guide.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_the_guide_lists_every_fact_each_shared_intake_topic_takes_and_no_other() -> None:
    listed = {
        row[1].strip("`"): set(re.findall(r"`([A-Z]\w+)`", row[2])) for row in table_rows("Who writes what")
    }
    assert listed == {topic: {f.__name__ for f in intake.facts} for topic, intake in SHARED_INTAKES.items()}


def test_the_guide_lists_every_event_each_events_topic_carries_and_no_other() -> None:
    listed = {
        row[0].strip("`"): set(re.findall(r"`([A-Z]\w+)`", row[1])) for row in table_rows("What comes back")
    }
    events = {Topic(t): {e.__name__ for e in get_args(UNION_OF_TOPIC[t])} for t in EVENTS_TOPICS}
    assert {topic: listed.get(topic) for topic in events} == events
