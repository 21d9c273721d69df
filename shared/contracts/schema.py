"""Export the JSON Schema of every topic's events (python -m shared.contracts.schema DIR).

Each is a JSON Schema 2020-12 document named by its topic and contract version (`$id`). Writing refuses a
schema that breaks the published one of the same version (`shared.contracts.policy`): a breaking change
needs a new version.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from shared.contracts.codec import UNION_OF_TOPIC
from shared.contracts.policy import CONTRACT_VERSION, breaking_changes
from shared.contracts.topics import PARTNER_TOPICS, Topic

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# read by partners: unknown fields are ignored
TOLERANT = frozenset({Topic.PARTNER_PLACEMENT_UPDATES.value, *PARTNER_TOPICS})


class ContractPolicyError(ValueError):
    """A schema change the policy forbids within a version."""


def schema_id(topic: str) -> str:
    return f"urn:envol:contract:{topic}:v{CONTRACT_VERSION}"


def schema_of(topic: str) -> dict[str, Any]:
    """The JSON Schema of a topic: a tagged union of its events (partners' topics: open to new fields)."""
    schema: dict[str, Any] = {"$schema": DIALECT, "$id": schema_id(topic)}
    schema |= described(msgspec.json.schema(UNION_OF_TOPIC[topic]))
    if topic in TOLERANT:
        for definition in schema.get("$defs", {}).values():
            definition.pop("additionalProperties", None)
    return schema


def described(value: Any) -> Any:
    """`value` with every description cleaned as `inspect.cleandoc` does: the same text whichever Python
    wrote it (3.13 strips a docstring's indentation when it compiles it, 3.11 and 3.12 keep it)."""
    if isinstance(value, dict):
        return {
            k: inspect.cleandoc(v) if k == "description" and isinstance(v, str) else described(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [described(v) for v in value]
    return value


def schemas() -> dict[str, dict[str, Any]]:
    """Return one JSON Schema per topic."""
    return {str(topic): schema_of(topic) for topic in UNION_OF_TOPIC}


def main(folder: str) -> None:
    """Write `<topic>.schema.json` files into `folder`; refuse (ContractPolicyError, nothing written) if
    one would break the schema already there of the same version."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    new = schemas()
    broken = []
    for topic, schema in new.items():
        path = out / f"{topic}.schema.json"
        if path.exists():
            published = json.loads(path.read_text())
            broken += [f"{topic}: {change}" for change in breaking_changes(published, schema)]
    if broken:
        listed = "\n  ".join(broken)
        raise ContractPolicyError(f"these changes need a new contract version (policy.py):\n  {listed}")
    for topic, schema in new.items():
        (out / f"{topic}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
