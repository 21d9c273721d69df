"""Export the JSON Schema of every topic's events (python -m shared.contracts.schema DIR)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from shared.contracts.codec import UNION_OF_TOPIC


def schemas() -> dict[str, dict[str, object]]:
    """Return one JSON Schema per topic, each a tagged union of its events."""
    return {topic.value: msgspec.json.schema(union) for topic, union in UNION_OF_TOPIC.items()}


def main(folder: str) -> None:
    """Write `<topic>.schema.json` files into `folder`."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for topic, schema in schemas().items():
        (out / f"{topic}.schema.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
