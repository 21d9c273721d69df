"""The integrators' guide's examples (docs/examples/<topic>/) are facts their topic accepts, keyed by their
subject as the guide says, and each file the guide names exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.contracts.codec import decode_sent

ROOT = Path(__file__).resolve().parents[2]
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
