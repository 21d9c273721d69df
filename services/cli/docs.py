"""Write the contracts' documentation: JSON Schema per topic, and each service's AsyncAPI document.

FastStream generates each AsyncAPI document from the running app's subscribers and publishers; it
cannot derive a JSON Schema from a msgspec tagged union, so each channel's payload is filled with
msgspec's own schema of the topic's events.
"""

from __future__ import annotations

import importlib
import json
import typing
from pathlib import Path
from typing import Any

import msgspec
from faststream._internal.application import Application

from services.grants import database_roles, grants
from shared import metrics
from shared.admin import DAY_MS, RETENTION, SEGMENT_MS, retention_class, topic_config
from shared.contracts.codec import UNION_OF_TOPIC
from shared.contracts.schema import TOLERANT, described
from shared.contracts.schema import main as write_json_schemas
from shared.contracts.topics import INTAKES, PARTNER_INTAKES, PARTNER_TOPICS, TOPICS, Topic
from shared.messaging import topic_doc
from shared.settings import Settings

SERVICES = ("application", "vetting", "placement", "departure")
REF = "#/components/schemas/{name}"


# What the AsyncAPI documents say of every record, besides its payload (docs/contracts.md).
KEY = {
    "type": "string",
    "description": "The subject id (a partner topic: the placement id; a shortlist entry: the opening id)",
}
HEADERS = {
    "type": "object",
    "properties": {
        "event-id": {"type": "string", "description": "The event's event_id"},
        "correlation_id": {
            "type": "string",
            "description": "The event's correlation_id, or its event_id when it has none",
        },
        "traceparent": {"type": "string", "description": "W3C trace context (internal topics only)"},
        "content-type": {"type": "string", "description": "Empty: the value is always JSON"},
    },
    "required": ["event-id", "correlation_id"],
}
INTAKE_HEADERS = {  # what a sender may add to a fact: none is required (docs/integrators.md)
    "type": "object",
    "properties": {
        "traceparent": {
            "type": "string",
            "description": "W3C trace context, optional: followed only when it names the trace of the "
            "subject's own lifecycle",
        },
    },
}
SECURITY = {
    "scram": {
        "type": "scramSha512",
        "description": "SASL SCRAM-SHA-512 over TLS: each client is a principal of its own, granted only its "
        "topics (docs/grants.md)",
    }
}
SERVERS = {
    "local": {
        "host": "127.0.0.1:9092",
        "protocol": "kafka-secure",
        "description": "The broker of `make up` (TLS with the local CA in .local-infra/secrets)",
        "security": [{"$ref": "#/components/securitySchemes/scram"}],
    },
    "production": {
        "host": "{bootstrap}",
        "protocol": "kafka-secure",
        "description": "The deployment's brokers (the operator gives their address and CA)",
        "variables": {"bootstrap": {"description": "host:port of a bootstrap broker"}},
        "security": [{"$ref": "#/components/securitySchemes/scram"}],
    },
}


def asyncapi(app: Application) -> dict[str, Any]:
    """Return the app's AsyncAPI 3.0 document with every payload described by the contracts, each record's
    key and headers, the servers and their security."""
    document: dict[str, Any] = json.loads(app.schema.to_specification().to_json())
    channels = document.get("channels", {}).values()
    topic_of: dict[int, str] = {id(c): c["address"] for c in channels}
    used = sorted(set(topic_of.values()))
    payloads, components = msgspec.json.schema_components([UNION_OF_TOPIC[t] for t in used], ref_template=REF)
    payload_of = dict(zip(used, payloads, strict=True))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(components)
    for topic in TOLERANT.intersection(used):  # partners ignore fields they do not know (docs/contracts.md)
        for event in typing.get_args(UNION_OF_TOPIC[topic]):
            schemas[event.__name__].pop("additionalProperties", None)
    messages = document["components"].get("messages", {})
    for channel in channels:
        topic = topic_of[id(channel)]
        channel["description"] = topic_doc(topic)
        channel["servers"] = [{"$ref": f"#/servers/{name}"} for name in SERVERS]
        for ref in channel.get("messages", {}).values():
            message = messages[ref["$ref"].rsplit("/", 1)[-1]]
            message["payload"] = payload_of[topic]
            message["headers"] = INTAKE_HEADERS if topic in INTAKES else HEADERS
            message["bindings"] = {"kafka": {"key": KEY, "bindingVersion": "0.4.0"}}
    for name in [n for n in schemas if n.endswith(":Payload") or n == "EmptyPayload"]:
        del schemas[name]
    document["servers"] = SERVERS
    document["components"]["securitySchemes"] = SECURITY
    named: dict[str, Any] = described(_discriminators_named(document))
    return named


def _discriminators_named(value: Any) -> Any:
    """AsyncAPI's schema objects name a discriminator by its property; JSON Schema's (OpenAPI style, as
    msgspec writes them) are objects with a mapping: keep the property name."""
    if isinstance(value, dict):
        found = {k: _discriminators_named(v) for k, v in value.items()}
        if isinstance(found.get("discriminator"), dict):
            found["discriminator"] = found["discriminator"]["propertyName"]
        return found
    if isinstance(value, list):
        return [_discriminators_named(v) for v in value]
    return value


def partner_asyncapi(placement: dict[str, Any], departure: dict[str, Any]) -> dict[str, Any]:
    """The partners' AsyncAPI document: from placement's and departure's, the topics partners read (each
    partner's own, and the shared one of the first delivery) and write (each partner's two intake topics),
    and what they refer to."""
    topics = {Topic.PARTNER_PLACEMENT_UPDATES.value, *PARTNER_TOPICS, *PARTNER_INTAKES}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for document in (placement, departure):
        kept_channels = {k: c for k, c in document["channels"].items() if c["address"] in topics}
        channels |= kept_channels
        operations |= {
            k: o
            for k, o in document["operations"].items()
            if o["channel"]["$ref"].rsplit("/", 1)[-1] in kept_channels
        }
        names = {r["$ref"].rsplit("/", 1)[-1] for c in kept_channels.values() for r in c["messages"].values()}
        messages |= {k: m for k, m in document["components"]["messages"].items() if k in names}
        schemas |= document["components"]["schemas"]
    kept = _referenced(messages, schemas)
    return {
        "asyncapi": placement["asyncapi"],
        "info": {
            "title": "Envol placement updates for partners, and the facts partners state",
            "version": placement["info"]["version"],
            "description": "What Envol sends its partner organisations: one message per change of a "
            "placement's status, pseudonymous (docs/partners.md). Ignore fields you do not know; within v1 "
            "none is removed and status keeps its values (docs/contracts.md). And what a partner writes on "
            "its own two intake topics (Envol receives them): its openings, choices, answers and reports.",
        },
        "defaultContentType": placement.get("defaultContentType", "application/json"),
        "servers": placement["servers"],
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {k: v for k, v in schemas.items() if k in kept},
            "securitySchemes": placement["components"]["securitySchemes"],
        },
    }


def _referenced(root: Any, schemas: dict[str, Any]) -> set[str]:
    """The names of the component schemas `root` refers to, directly or through other schemas."""
    found: set[str] = set()
    pending = [root]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in found:
                    found.add(name)
                    pending.append(schemas[name])
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return found


def grants_page() -> str:
    """The grants table as the broker gets it (no namespace), one line per principal and operation; then
    the database's roles."""
    rows: dict[tuple[str, str], list[str]] = {}
    for grant in grants(Settings(mode="local")):
        name = f"`{grant.name}*`" if grant.prefixed else f"`{grant.name}`"
        name += f" ({grant.resource}{'s' if grant.prefixed else ''})" if grant.resource == "group" else ""
        rows.setdefault((grant.principal, grant.operation.value), []).append(name)
    lines = [
        "# Grants",
        "",
        "Written by `make docs` from `services/grants.py`, which `make topics` applies to the broker;",
        "every operation not listed is refused (see [security.md](security.md)). `admin` is the broker's",
        "super user.",
        "",
        "| principal | may | on |",
        "|---|---|---|",
        *(f"| {p} | {op} | {', '.join(names)} |" for (p, op), names in rows.items()),
        "",
        "## Database",
        "",
        "Each user's roles (`database_roles`), which `make topics` gives the users on MongoDB; FerretDB v1",
        "authenticates the same users but stores no roles (see [security.md](security.md)).",
        "",
        "| user | role | on |",
        "|---|---|---|",
        *(f"| {r.user} | {r.role} | `{r.database}` |" for r in database_roles(Settings(mode="local"))),
    ]
    return "\n".join(lines) + "\n"


def topics_page() -> str:
    """The topic table as `make topics` creates it: who writes and reads each topic, and its settings."""
    table, local = grants(Settings(mode="local")), Settings(mode="local")
    lines = [
        "# Topics",
        "",
        "Written by `make docs` from `shared/admin.py` (the topic table) and `services/grants.py`.",
        "`make topics` creates each topic so, sets an existing topic's configuration to it, and reports a",
        "partition count or replication that differs (an operator changes those by reassignment).",
        f"Partitions: `ENVOL_TOPIC_PARTITIONS` (default {local.topic_partitions}); replication:",
        f"`ENVOL_TOPIC_REPLICATION` (default {local.topic_replication}; 3 on a cluster, so min ISR 2).",
        "",
        "| topic | written by | read by | partitions | replicas, min ISR: local; cluster | retention "
        "| largest message |",
        "|---|---|---|---|---|---|---|",
    ]
    replicas = (local.topic_replication, 3)
    for topic in TOPICS:
        config = topic_config(3, topic)
        durability = "; ".join(f"{n}, {topic_config(n, topic)['min.insync.replicas']}" for n in replicas)
        writers = sorted({g.principal for g in table if g.name == topic and g.operation.value == "WRITE"})
        readers = sorted({g.principal for g in table if g.name == topic and g.operation.value == "READ"})
        days = int(config["retention.ms"]) // DAY_MS
        lines.append(
            f"| `{topic}` | {', '.join(writers)} | {', '.join(readers)} | {local.topic_partitions} | "
            f"{durability} | {days} days "
            f"({retention_class(topic)}) | {int(config['max.message.bytes']) // 1024} KiB |"
        )
    lines += ["", "## Retention", "", "| class | kept | why |", "|---|---|---|"]
    lines += [f"| {name} | {r.days} days | {r.why} |" for name, r in RETENTION.items()]
    lines += [
        "",
        "A record is deleted with its segment, once the segment's newest record is past retention;",
        f"segments roll every {SEGMENT_MS // DAY_MS} day, so a record goes at most a day after its",
        "retention. Deletion does not wait for consumers: a consumer group stopped longer than its topic's",
        "retention loses records. The console and `envol status` count from the operators' read model",
        "(the console's latest snapshot, in the database `envol_views`, and the records since), so what",
        "retention deleted still counts there, and so does `envol timeline` (its one-line summaries; with",
        "`--sensitive` or `--copies` it reads the topics from their earliest offset, so it sees only what",
        "retention has kept). `envol audit` judges the past on the same read model, and what partners may",
        "read and what an erasure removed on the topics as they are ([operations.md](operations.md)).",
    ]
    return "\n".join(lines) + "\n"


def metrics_page() -> str:
    """Every metric Envol defines (`shared.metrics`), with its type, labels and meaning."""
    lines = [
        "# Metrics",
        "",
        "Written by `make docs` from `shared/metrics.py`. Each service serves them at `GET /metrics` (see",
        "[operations.md](operations.md)), with FastStream's Prometheus middleware metrics (`faststream_*`:",
        "received, processed with durations and exceptions, published) and the process collector's",
        "(`process_*`: CPU, memory, open files). Prometheus adds the `job` and `instance` it scraped.",
        "",
        "| metric | type | labels | meaning |",
        "|---|---|---|---|",
    ]
    for name in metrics.METRICS:
        metric = getattr(metrics, name)
        kind = type(metric).__name__.lower()
        shown = f"{metric._name}_total" if kind == "counter" else metric._name
        labels = ", ".join(f"`{label}`" for label in metric._labelnames) or "—"
        lines.append(f"| `{shown}` | {kind} | {labels} | {metric._documentation} |")
    return "\n".join(lines) + "\n"


def write(folder: Path) -> list[Path]:
    """Write `schemas/<topic>.schema.json`, `asyncapi/<service>.json` and `asyncapi/partners.json`,
    `grants.md`, `topics.md` and `metrics.md` under `folder`."""
    write_json_schemas(str(folder / "schemas"))
    (folder / "grants.md").write_text(grants_page())
    (folder / "topics.md").write_text(topics_page())
    (folder / "metrics.md").write_text(metrics_page())
    (folder / "asyncapi").mkdir(parents=True, exist_ok=True)
    written, documents = [], {}
    for name in SERVICES:
        module = importlib.import_module(f"services.{name}.main")
        app: Application = module.create_app(Settings(mode="local"))  # built for its document, never run
        documents[name] = asyncapi(app)
    documents["partners"] = partner_asyncapi(documents["placement"], documents["departure"])
    for name, document in documents.items():
        path = folder / "asyncapi" / f"{name}.json"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        written.append(path)
    return written
