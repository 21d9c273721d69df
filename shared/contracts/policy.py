"""How a contract may change within a version, as a check between a published schema and a new one.

Within a version (`CONTRACT_VERSION`, every event's `schema_version`) a contract changes only by
addition: a new optional field (with a default), or a new event type on a topic. Nothing is removed,
renamed, retyped, constrained differently or made required, and no enumeration gains or loses a value:
the enumerations are closed (a reader may map them to a strict enum). Anything else is a new version: the
events' `schema_version` goes up, and the partner topic gets a new name (`…-updates.v2`) published beside
the old one for a transition period.

Envol's own readers refuse unknown fields, so a field or event type is added reader first: the
consumers of the topic are deployed before its writers send it (for an intake topic: before the outside
source is told it may). Partners must ignore fields and event types they do not know; their schema says so
(`additionalProperties` is not false). `docs/contracts.md` says all of this to integrators.
"""

from __future__ import annotations

import json
from typing import Any

CONTRACT_VERSION = 1  # the version of every contract; an event's schema_version must be this one
IGNORED = frozenset({"description", "title", "default", "examples"})  # words, not the shape


def breaking_changes(published: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What `new` changes in `published` (two JSON Schemas of one topic) that the policy forbids within a
    version; empty when `new` only adds."""
    if published.get("$id") != new.get("$id"):
        return []  # a new version: anything may change
    old_defs, new_defs = published.get("$defs", {}), new.get("$defs", {})
    found = [f"{name} was removed" for name in old_defs if name not in new_defs]
    for name in sorted(set(old_defs) & set(new_defs)):
        found += _definition(name, old_defs[name], new_defs[name])
    old_types, new_types = _event_types(published), _event_types(new)
    found += [f"event type {t} was removed from the topic" for t in sorted(old_types - new_types)]
    return found


def _definition(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if "enum" in old or "enum" in new:
        added = sorted(set(new.get("enum", [])) - set(old.get("enum", [])), key=str)
        gone = sorted(set(old.get("enum", [])) - set(new.get("enum", [])), key=str)
        return [f"{name} gained the value {v!r} (enumerations are closed)" for v in added] + [
            f"{name} lost the value {v!r}" for v in gone
        ]
    found = []
    old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
    for field, schema in old_fields.items():
        if field not in new_fields:
            found.append(f"{name}.{field} was removed")
        elif _shape(schema) != _shape(new_fields[field]):
            found.append(f"{name}.{field} changed: {_short(schema)} became {_short(new_fields[field])}")
    for field in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        found.append(f"{name}.{field} is required" + ("" if field in old_fields else " (a new field)"))
    if old.get("additionalProperties", True) is not False and new.get("additionalProperties") is False:
        found.append(f"{name} no longer allows fields it does not name")
    if _shape(_without(old, "properties", "required", "additionalProperties")) != _shape(
        _without(new, "properties", "required", "additionalProperties")
    ):
        found.append(f"{name} changed: {_short(old)} became {_short(new)}")
    return found


def _event_types(schema: dict[str, Any]) -> set[str]:
    """The event types a topic's union carries (its discriminator's mapping, or its one event)."""
    mapping = schema.get("discriminator", {}).get("mapping")
    if mapping:
        return set(mapping)
    found = set()
    for definition in schema.get("$defs", {}).values():
        tag = definition.get("properties", {}).get("event_type", {}).get("enum")
        if tag:
            found |= set(tag)
    return found


def _shape(value: Any) -> Any:
    """A schema without its words, for comparison."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def _without(definition: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k not in keys}


def _short(schema: Any) -> str:
    text = json.dumps(_shape(schema), sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."
