"""Contracts evolve by the stated policy (shared.contracts.policy): the code's schemas break none of those
published in docs/, a change the policy forbids is named, `make docs` refuses to publish it, the schemas
are valid JSON Schema that every example event satisfies, and a reader refuses a schema version it does
not know."""

from __future__ import annotations

import json
from enum import Enum
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from shared.contracts.codec import ContractError, decode, encode
from shared.contracts.policy import CONTRACT_VERSION, breaking_changes
from shared.contracts.schema import ContractPolicyError, main, schema_of, schemas
from shared.contracts.topics import Topic
from tests.examples import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "schemas"


@pytest.mark.parametrize("topic", [t.value for t in Topic if t != Topic.DEAD_LETTER])
def test_the_codes_contracts_break_none_of_the_published_ones(topic: str) -> None:
    published = json.loads((PUBLISHED / f"{topic}.schema.json").read_text())
    assert published["$id"] == schemas()[topic]["$id"], "a new version: publish it with make docs"
    assert breaking_changes(published, schemas()[topic]) == []


class Shade(Enum):
    RED = "red"
    BLUE = "blue"


class WiderShade(Enum):  # Shade with one more value
    RED = "red"
    BLUE = "blue"
    GREEN = "green"


def event(name: str, **fields: tuple[Any, ...]) -> type:
    """An event type with `fields` (name: (type,) or (type, default)), as the contracts define them."""
    return msgspec.defstruct(name, [(k, *v) for k, v in fields.items()], tag=True, tag_field="event_type",
                             kw_only=True,
                             forbid_unknown_fields=True)  # fmt: skip


def topic_schema(*events: type, version: int = 1) -> dict[str, Any]:
    """A topic's schema as schema_of writes it: its version's id and the union of its events."""
    union = reduce(or_, events) if len(events) > 1 else events[0]
    return {"$id": f"urn:test:v{version}"} | msgspec.json.schema(union)


def test_adding_an_optional_field_or_an_event_type_is_allowed_and_everything_else_is_named() -> None:
    other = event("Other", n=(int,))
    base = topic_schema(event("Thing", a=(int,), b=(str, "")), other)

    def changed(*events: type) -> list[str]:
        return breaking_changes(base, topic_schema(*events))

    assert changed(event("Thing", a=(int,), b=(str, ""), c=(int, 0)), other) == []  # an optional field
    assert changed(event("Thing", a=(int,), b=(str, "")), other, event("New", x=(int,))) == []  # a new type
    assert changed(event("Thing", a=(int,), b=(str, ""), c=(int,)), other) == [
        "Thing.c is required (a new field)"
    ]
    assert changed(event("Thing", a=(int,), b=(str,)), other) == ["Thing.b is required"]
    assert changed(event("Thing", a=(str,), b=(str, "")), other) == [
        'Thing.a changed: {"type": "integer"} became {"type": "string"}'
    ]
    assert changed(event("Thing", a=(int,)), other) == ["Thing.b was removed"]
    assert changed(event("Thing", a=(int,), b=(str, ""))) == [
        "Other was removed",
        "event type Other was removed from the topic",
    ]
    shaded, wider = topic_schema(event("Paint", s=(Shade,))), topic_schema(event("Paint", s=(WiderShade,)))
    wider["$defs"]["Shade"] = wider["$defs"].pop("WiderShade")
    wider["$defs"]["Paint"]["properties"]["s"] = shaded["$defs"]["Paint"]["properties"]["s"]
    assert breaking_changes(shaded, wider) == ["Shade gained the value 'green' (enumerations are closed)"]
    assert breaking_changes(wider, shaded) == ["Shade lost the value 'green'"]
    assert breaking_changes(base, topic_schema(event("Thing", a=(str,)), version=2)) == []  # a new version


def test_make_docs_refuses_to_publish_a_breaking_change_and_writes_nothing(tmp_path: Path) -> None:
    main(str(tmp_path))
    path = tmp_path / f"{Topic.APPLICATION_EVENTS.value}.schema.json"
    published = json.loads(path.read_text())
    published["$defs"]["ApplicationRejected"]["properties"]["appeal"] = {"type": "string"}  # a field now gone
    path.write_text(json.dumps(published))
    other = tmp_path / f"{Topic.VETTING_EVENTS.value}.schema.json"
    other.write_text("{}")
    with pytest.raises(ContractPolicyError, match=r"ApplicationRejected\.appeal was removed"):
        main(str(tmp_path))
    assert json.loads(other.read_text()) == {}, "a refused publication wrote a file"


@pytest.mark.parametrize("topic", [t for t in Topic if t != Topic.DEAD_LETTER], ids=str)
def test_each_schema_is_valid_json_schema_that_every_example_of_its_topic_satisfies(topic: Topic) -> None:
    schema = schema_of(topic)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    examples = [event for t, event in EXAMPLES if t == topic]
    assert examples
    for event in examples:
        validator.validate(json.loads(encode(event)))
    body = json.loads(encode(examples[0]))
    assert not validator.is_valid(body | {"occurred_at": "2026-03-01 09:00"}), "date-time is not checked"
    opened = body | {"a_field_from_a_later_release": 1}
    if topic == Topic.PARTNER_PLACEMENT_UPDATES:  # partners ignore what they do not know
        validator.validate(opened)
    else:  # Envol's readers refuse it, and the schema says so
        assert not validator.is_valid(opened)
        with pytest.raises(ContractError, match="a_field_from_a_later_release"):
            decode(topic, json.dumps(opened).encode())


def test_a_reader_refuses_a_schema_version_it_does_not_know() -> None:
    topic, event = next((t, e) for t, e in EXAMPLES if t == Topic.APPLICATION_EVENTS)
    body = json.loads(encode(event))
    assert decode(topic, json.dumps(body).encode()).schema_version == CONTRACT_VERSION
    with pytest.raises(ContractError, match="schema_version 2 is not a version this reader knows"):
        decode(topic, json.dumps(body | {"schema_version": 2}).encode())
