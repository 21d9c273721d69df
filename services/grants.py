"""Least privilege as data: every principal of the broker and what it may do, reviewed like code.

The broker refuses whatever no grant allows (`allow.everyone.if.no.acl.found=false`); `admin` is its one
super user, and only it creates topics and grants. `make topics` (`services.provision`) applies this table:
- each service reads the topics it consumes, writes those it publishes and the dead-letter topic, and
  commits offsets in its own consumer group only;
- each outside source writes its own intake topics, nothing else (`shared.contracts.intake`); once every
  host is onboarded as a partner, the shared host topics are retired (`SHARED_HOST_TOPICS_RETIRED`):
  nobody writes them, so a host can speak only through its own principal;
- each partner organisation (`shared.contracts.partners`) reads only its own topic, the updates of its own
  placements, in consumer groups named `partner-<id>.…`; the `partner` principal reads the shared topic
  of the first delivery (every partner's placements), kept for a transition period;
- operators read every topic, see every group's offsets, and write only the intake topics (a dead
  letter's replay);
- the eraser, the principal `envol erase` runs as, writes the agency's intake topic (the erasure request),
  reads and deletes records of the topics that may hold a volunteer's data (`ERASABLE`: all but the
  partner topic), writes the dead-letter topic (the other letters a deletion would take are written again
  first), and sees the groups' offsets (it cuts only what every reader is past). Kafka's DELETE on a topic
  also allows deleting the topic: a principal of its own keeps that out of the operators' everyday hands.

The database has its own, smaller table (`database_roles`): each service reads and writes its own database
only, and the auditor (`envol audit`, `envol status`, the console) reads the services' databases and writes
none of them: it writes only the operators' own (`envol_views`), where the console keeps its read model.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from services.application import router as application
from services.departure import router as departure
from services.placement import router as placement
from services.vetting import router as vetting
from shared.contracts.intake import INTAKE_OF_TOPIC, Source, retired_intakes
from shared.contracts.partners import PARTNERS, principal_of, topic_of
from shared.contracts.topics import INTAKES, PARTNER_TOPICS, TOPICS, Topic
from shared.settings import Settings

ADMIN = "admin"  # the super user: creates topics and grants, never used by a service
OPERATOR = "operator"
ERASER = "eraser"  # `envol erase`: the one principal that deletes records
SHARED_PARTNER = "partner"  # reads the shared partner topic of the first delivery (every partner's)
PARTNER_PRINCIPALS = tuple(principal_of(partner) for partner in PARTNERS)
ROUTERS = (application, vetting, placement, departure)
SERVICES = tuple(router.NAME for router in ROUTERS)
SOURCES = tuple(source.value for source in Source)
# The topics whose records may hold a volunteer's personal data, and which an erasure truncates: every
# topic but the partner topics, which carry pseudonyms only (see docs/privacy.md).
ERASABLE = tuple(t for t in TOPICS if t not in (Topic.PARTNER_PLACEMENT_UPDATES, *PARTNER_TOPICS))
# every principal the grants name
PRINCIPALS = (*SERVICES, *SOURCES, SHARED_PARTNER, *PARTNER_PRINCIPALS, OPERATOR, ERASER)
AUDITOR = "auditor"  # the operators' user of the database: reads the services', keeps their read model
VIEWS = "views"  # the operators' database: the console's read model (services/console/snapshots.py)
DATABASE_USERS = (*SERVICES, AUDITOR)  # every user the database roles name


class Operation(StrEnum):
    """What a grant allows (Kafka's own operations; READ and WRITE imply DESCRIBE)."""

    READ = "READ"
    WRITE = "WRITE"
    DESCRIBE = "DESCRIBE"
    DELETE = "DELETE"  # on a topic: delete its records before an offset (an erasure; Kafka lets it delete
    # the topic too, having no finer operation: docs/security.md)


class Grant(NamedTuple):
    """One permission: a principal may do `operation` on a topic or a consumer group (by name or prefix)."""

    principal: str
    operation: Operation
    resource: str  # "topic" or "group"
    name: str  # as the broker knows it (in the settings' namespace)
    prefixed: bool = False


def grants(settings: Settings) -> list[Grant]:
    """The whole table, in the namespace of `settings`."""
    read, write = Operation.READ, Operation.WRITE
    found: list[Grant] = []
    for router in ROUTERS:
        found += [Grant(router.NAME, read, "topic", settings.topic(t)) for t in router.CONSUMES]
        found += [
            Grant(router.NAME, write, "topic", settings.topic(t))
            for t in (*router.PUBLISHES, Topic.DEAD_LETTER)
        ]
        found.append(Grant(router.NAME, read, "group", settings.group(router.NAME)))
    writable = [topic for topic in INTAKE_OF_TOPIC if topic not in retired_intakes()]
    found += [Grant(INTAKE_OF_TOPIC[t].source, write, "topic", settings.topic(t)) for t in writable]
    readers = [(SHARED_PARTNER, Topic.PARTNER_PLACEMENT_UPDATES.value)]
    readers += [(principal_of(partner), topic_of(partner)) for partner in PARTNERS]
    for principal, partner_topic in readers:
        found.append(Grant(principal, read, "topic", settings.topic(partner_topic)))
        found.append(Grant(principal, read, "group", settings.topic(f"{principal}."), prefixed=True))
    found += [Grant(OPERATOR, read, "topic", settings.topic(t)) for t in TOPICS]
    found += [Grant(OPERATOR, write, "topic", settings.topic(t)) for t in INTAKES if t in writable]
    found.append(Grant(OPERATOR, Operation.DESCRIBE, "group", settings.topic("envol-"), prefixed=True))
    found += [
        Grant(ERASER, op, "topic", settings.topic(t)) for t in ERASABLE for op in (read, Operation.DELETE)
    ]
    found += [Grant(ERASER, write, "topic", settings.topic(t))
              for t in (Topic.APPLICATION_INTAKE_AGENCY, Topic.DEAD_LETTER)]  # fmt: skip
    found.append(Grant(ERASER, Operation.DESCRIBE, "group", settings.topic("envol-"), prefixed=True))
    return found


def allows(table: list[Grant], principal: str, operation: Operation, resource: str, name: str) -> bool:
    """Whether the table lets `principal` do `operation` on a resource (READ or WRITE imply DESCRIBE)."""
    implied = {operation} | ({Operation.READ, Operation.WRITE} if operation is Operation.DESCRIBE else set())
    return any(
        g.principal == principal
        and g.operation in implied
        and g.resource == resource
        and (name.startswith(g.name) if g.prefixed else name == g.name)
        for g in table
    )


class DatabaseRole(NamedTuple):
    """One MongoDB built-in role of a user on one database."""

    user: str
    role: str  # "readWrite" or "read"
    database: str


def database_roles(settings: Settings) -> list[DatabaseRole]:
    """The database's table, for the databases of `settings`."""
    found = [DatabaseRole(service, "readWrite", settings.database(service)) for service in SERVICES]
    found += [DatabaseRole(AUDITOR, "read", settings.database(service)) for service in SERVICES]
    found += [DatabaseRole(AUDITOR, "readWrite", settings.database(VIEWS))]
    return found
