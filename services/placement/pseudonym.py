"""The pseudonymous volunteer reference partners see instead of the volunteer's id: one per partner."""

from __future__ import annotations

import hashlib
import hmac


def volunteer_ref(key: str, partner: str, volunteer_id: str) -> str:
    """Return "vol-" and the first 16 hex digits of HMAC-SHA256(key, partner ‖ volunteer_id): stable for one
    volunteer at one partner, not reversible, and another at each partner, so two hosts comparing their
    references cannot tell that one volunteer served both. The partner's name is length-prefixed, so no
    two (partner, volunteer) pairs hash the same text."""
    message = f"{len(partner)}:{partner}|{volunteer_id}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    return f"vol-{digest[:16]}"
