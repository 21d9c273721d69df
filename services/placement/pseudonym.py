"""The pseudonymous volunteer reference partners see instead of the volunteer's id."""

from __future__ import annotations

import hashlib
import hmac


def volunteer_ref(key: str, volunteer_id: str) -> str:
    """Return "vol-" and the first 16 hex digits of HMAC-SHA256(key, volunteer_id): stable, not reversible."""
    digest = hmac.new(key.encode(), volunteer_id.encode(), hashlib.sha256).hexdigest()
    return f"vol-{digest[:16]}"
