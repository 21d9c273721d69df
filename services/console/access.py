"""Who may use the console: operators, each with a password from the console's passwords file, signed in
for a while by a cookie this process signs.

The passwords file has the form of every passwords file of the project (`<name> <password>` lines), read
when the console starts; it is a secret, for the console alone. A session is `<name>.<expiry>.<signature>`,
signed with a key drawn when the process starts: a restart signs everyone out, and replicas behind one
address need sticky sessions. After `FAILURES_BEFORE_LOCK` wrong passwords in a row a name is locked for
`LOCK_SECONDS`, which bounds guessing to a few tries a minute per name; outside local mode every password
must be at least `MIN_PASSWORD` characters long.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable

from shared.settings import Settings, read_passwords

COOKIE = "envol_session"
SESSION_SECONDS = 8 * 3600  # a working day
FAILURES_BEFORE_LOCK = 5
LOCK_SECONDS = 60.0
NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
SESSION = re.compile(r"([A-Za-z0-9._@-]{1,64})\.([0-9]{1,12})\.([0-9a-f]{64})")  # name.expiry.signature
MIN_PASSWORD = 16  # outside local mode (ENVOL_MODE), as for the project's other secrets


class NoOperatorsError(ValueError):
    """The console was started without a passwords file naming at least one operator."""


class Access:
    """The operators' passwords, the sessions signed for them, and the names locked after wrong tries."""

    def __init__(self, passwords: dict[str, str], clock: Callable[[], float] = time.time) -> None:
        if not passwords:
            raise NoOperatorsError("the console's passwords file names no operator")
        odd = sorted(name for name in passwords if not NAME.fullmatch(name))
        if odd:  # a name goes into the session cookie as it is
            raise NoOperatorsError(f"operators' names are letters, digits, '.', '_', '@' or '-': not {odd}")
        self.passwords = passwords
        self.clock = clock
        self.key = secrets.token_bytes(32)
        self.failures: dict[str, tuple[int, float]] = {}  # name: wrong tries in a row, when the last was
        self.signed_out: dict[str, int] = {}  # the signatures of sessions signed out, until they expire

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        if not settings.console_passwords_file:
            raise NoOperatorsError(
                "ENVOL_CONSOLE_PASSWORDS is not set: the console signs operators in with the passwords of "
                "that file (`<name> <password>` lines)"
            )
        passwords = read_passwords(settings.console_passwords_file, "ENVOL_CONSOLE_PASSWORDS")
        short = sorted(name for name, password in passwords.items() if len(password) < MIN_PASSWORD)
        if short and settings.mode != "local":
            too_short = f"passwords shorter than {MIN_PASSWORD} characters, for {', '.join(short)}"
            raise NoOperatorsError(too_short)
        return cls(passwords)

    def sign_in(self, name: str, password: str) -> str | None:
        """A session for `name` when `password` is theirs and the name is not locked; else None."""
        tries, last = self.failures.get(name, (0, 0.0))
        now = self.clock()
        if tries >= FAILURES_BEFORE_LOCK and now - last < LOCK_SECONDS:
            return None
        known = self.passwords.get(name)
        # compared in constant time, and against something even for an unknown name
        if hmac.compare_digest((known or secrets.token_hex(16)).encode(), password.encode()) and known:
            self.failures.pop(name, None)
            expiry = int(now + SESSION_SECONDS)
            return f"{name}.{expiry}.{self._signature(name, expiry)}"
        if known is not None:  # an unknown name is never signed in: nothing to count (nor to store)
            self.failures[name] = (1 if tries >= FAILURES_BEFORE_LOCK else tries + 1, now)
        return None

    def operator(self, session: str | None) -> str | None:
        """The operator a session cookie was signed for, while it lasts and until it is signed out; None for
        anything else, whatever its bytes."""
        valid = self._valid(session)
        return valid[0] if valid else None

    def sign_out(self, session: str | None) -> None:
        """End a session for good, its copies too (known by its signature until it would have expired)."""
        now = self.clock()
        self.signed_out = {s: expiry for s, expiry in self.signed_out.items() if expiry > now}
        valid = self._valid(session)
        if valid:
            _, expiry, signature = valid
            self.signed_out[signature] = expiry

    def _valid(self, session: str | None) -> tuple[str, int, str] | None:
        """A live session's name, expiry and signature; None for anything else."""
        found = SESSION.fullmatch(session or "")
        if found is None:
            return None
        name, expiry, signature = found[1], int(found[2]), found[3]
        if signature in self.signed_out or self.clock() >= expiry or name not in self.passwords:
            return None
        return (
            (name, expiry, signature)
            if hmac.compare_digest(signature, self._signature(name, expiry))
            else None
        )

    def _signature(self, name: str, expiry: int) -> str:
        return hmac.new(self.key, f"{name}.{expiry}".encode(), hashlib.sha256).hexdigest()
