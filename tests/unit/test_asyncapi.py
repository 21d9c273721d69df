"""The AsyncAPI documents in docs/asyncapi are valid AsyncAPI 3.0 for the official parser (from npm), with
no error and no warning; the partners' document holds the topics partners read and write, with each
record's key, headers, servers and security."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.cli.docs import HEADERS
from shared.contracts.topics import PARTNER_INTAKES, PARTNER_TOPICS

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tests" / "asyncapi"
DOCUMENTS = sorted((ROOT / "docs" / "asyncapi").glob("*.json"))
PARTNER_TOPIC = "envol.partner.placement-updates.v1"


@pytest.fixture(scope="module")
def parser() -> Path:
    """The official AsyncAPI parser, installed from the npm registry by its lock file once."""
    assert shutil.which("node") and shutil.which("npm"), "the AsyncAPI check needs Node.js with npm"
    if not (VALIDATOR / "node_modules" / "@asyncapi" / "parser").is_dir():
        done = subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=VALIDATOR,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, f"npm ci in tests/asyncapi failed:\n{done.stderr[-3000:]}"
    return VALIDATOR


def diagnostics(parser: Path, *paths: Path) -> tuple[int, dict[str, list[dict[str, str]]]]:
    done = subprocess.run(["node", "validate.mjs", *map(str, paths)], cwd=parser,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.stdout, f"the parser printed nothing:\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(done.stdout)


def test_every_document_is_valid_asyncapi_without_a_warning(parser: Path) -> None:
    assert {p.stem for p in DOCUMENTS} == {"application", "vetting", "placement", "departure", "partners"}
    code, found = diagnostics(parser, *DOCUMENTS)
    assert code == 0 and all(not listed for listed in found.values()), json.dumps(found, indent=1)


def first_with(value: Any, key: str) -> dict[str, Any]:
    """The first object within `value` that has `key`."""
    pending = [value]
    while pending:
        item = pending.pop(0)
        if isinstance(item, dict):
            if key in item:
                return item
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    raise AssertionError(f"no {key} in the document")


def test_the_parser_refuses_what_the_documents_once_held(parser: Path, tmp_path: Path) -> None:
    document = json.loads((ROOT / "docs" / "asyncapi" / "placement.json").read_text())
    broken = copy.deepcopy(document)
    union = first_with(broken, "discriminator")
    union["discriminator"] = {"propertyName": "event_type"}  # JSON Schema's object form, not AsyncAPI's
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    code, found = diagnostics(parser, path)
    assert code == 1 and any("discriminator" in d["message"] for d in found[str(path)])


def test_the_partners_document_holds_the_topics_they_read_and_write_with_keys_headers_servers_security() -> (
    None
):
    document: dict[str, Any] = json.loads((ROOT / "docs" / "asyncapi" / "partners.json").read_text())
    channels = document["channels"]
    assert sorted(c["address"] for c in channels.values()) == sorted(
        [PARTNER_TOPIC, *PARTNER_TOPICS, *PARTNER_INTAKES]
    )
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    for operation in document["operations"].values():
        channel = channels[operation["channel"]["$ref"].rsplit("/", 1)[-1]]
        read = channel["address"] in (PARTNER_TOPIC, *PARTNER_TOPICS)
        assert operation["action"] == ("send" if read else "receive")  # Envol sends, or receives theirs
        for ref in channel["messages"].values():
            message = messages[ref["$ref"].rsplit("/", 1)[-1]]
            assert message["bindings"]["kafka"]["key"]["type"] == "string"
            headers = message["headers"]
            if read:  # what Envol writes on every record, and the trace context said to be internal only
                assert (
                    {"event-id", "correlation_id"} <= set(headers["properties"]) == set(HEADERS["properties"])
                )
            else:  # nothing is asked of a sender
                assert "required" not in headers and set(headers["properties"]) == {"traceparent"}
            names = [
                r["$ref"].rsplit("/", 1)[-1] for r in message["payload"].get("anyOf", [message["payload"]])
            ]
            facts = {name for name in names if "properties" in schemas[name]}
            assert facts
            # partners ignore fields they do not know; Envol refuses a fact's unknown fields
            assert all(("additionalProperties" in schemas[name]) is not read for name in facts)
    assert {
        "PlacementUpdated", "MissionUpdated", "PlacementErased", "CandidateShortlisted", "ShortlistLeft",
        "ShortlistErased", "ChoiceVoid", "FactRefused",  # what partners read
        "OpeningPublished", "ApplicantSelected", "ProposalAnswered", "PlacementReported",  # some they write
    } <= set(schemas)  # fmt: skip
    assert document["components"]["securitySchemes"]["scram"]["type"] == "scramSha512"
    for server in document["servers"].values():
        assert server["protocol"] == "kafka-secure" and server["security"]
    assert "127.0.0.1" not in json.dumps(document["servers"]["production"])
