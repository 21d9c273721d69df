"""The partner organisations: each host Envol places volunteers with reads the updates about its own
placements, on a topic of its own that only its principal may read.

A partner is onboarded here, reviewed like code: `make topics` then creates its topic, its principal
(`partner-<id>`) and their grants (services/grants.py), and placement publishes the updates of every
opening the organisation publishes to it. An opening of an organisation not listed here is still placed;
its updates reach only the shared topic of the first delivery (`envol.partner.placement-updates.v1`, read
by the `partner` principal, kept for a transition period: docs/partners.md).
"""

from __future__ import annotations

import re
from typing import NamedTuple

ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")  # a topic name's and a principal's part


class Partner(NamedTuple):
    """One partner organisation."""

    id: str  # short and stable: its principal is `partner-<id>`, its topic names it
    organisation: str  # the host organisation's name, as its openings state it (`host_organisation`)


PARTNERS = (
    Partner("npc", "Neotropical Primate Conservation"),
    Partner("ird", "Institut de recherche pour le développement"),
    Partner("fsp", "Fédération sportive de Paris"),
)
_BY_ORGANISATION = {partner.organisation: partner for partner in PARTNERS}
assert len(_BY_ORGANISATION) == len({p.id for p in PARTNERS}) == len(PARTNERS), "a partner listed twice"
assert all(ID.match(p.id) for p in PARTNERS), "a partner id that cannot name a topic or a principal"


def partner_of(organisation: str) -> Partner | None:
    """The partner an opening's host organisation is, if it is one."""
    return _BY_ORGANISATION.get(organisation)


def partner_named(principal: str) -> Partner | None:
    """The partner whose principal this is, if it is one (a fact's `producer` on its own intake topics)."""
    return _BY_PRINCIPAL.get(principal)


def principal_of(partner: Partner) -> str:
    """The partner's principal on the broker."""
    return f"partner-{partner.id}"


def topic_of(partner: Partner) -> str:
    """The partner's own topic: the updates of its placements, in the partner contract."""
    return f"envol.partner.{partner.id}.placement-updates.v1"


_BY_PRINCIPAL = {principal_of(partner): partner for partner in PARTNERS}
