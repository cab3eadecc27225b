"""API keys of the SP API, one or more per SP, stored as digests.

A key reads ``vas_<key id>.<secret>``. The store keeps the key id, the SP and the
SHA-256 digest of the secret; the secret is shown once, when the key is made, and
cannot be read back. A plain digest (no salt, no slow hash) is enough because the
secret is 256 random bits, not a password someone chose: nothing can be guessed from
its digest. Checking a key looks its id up and compares digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from vas_lifecycle.clock import Clock, SystemClock
from vas_lifecycle.errors import InvalidArgumentError
from vas_lifecycle.records import SpKey
from vas_lifecycle.store.base import Store
from vas_lifecycle.unit_of_work import ClockReader, call

__all__ = ["SpKeys"]

PREFIX = "vas_"
_SP_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_KEY = re.compile(r"vas_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def check_sp_id(value: object) -> str:
    """An SP id as catalogs write them: 1 to 32 letters, digits, ``_``, ``.`` or ``-``."""
    if not isinstance(value, str) or not _SP_ID.fullmatch(value):
        raise InvalidArgumentError(
            f"an SP id is 1 to 32 letters, digits, '_', '.' or '-', got {value!r}"
        )
    return value


class SpKeys:
    """Makes, checks and revokes the SP API's keys in ``store``."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self._now = ClockReader(clock if clock is not None else SystemClock())

    def add(self, sp_id: str) -> str:
        """A new key for ``sp_id``: returned once, stored only as its digest."""
        sp = check_sp_id(sp_id)
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        record = SpKey(key_id, sp, _digest(secret), self._now.now())
        call(self.store, lambda tx: tx.keys.add_sp_key(record))
        return f"{PREFIX}{key_id}.{secret}"

    def revoke(self, sp_id: str, key_id: str | None = None) -> int:
        """Revoke one key of an SP (by its id, the part after ``vas_``) or all of them;
        how many were live."""
        sp, now = check_sp_id(sp_id), self._now.now()
        return call(self.store, lambda tx: tx.keys.revoke_sp_keys(sp, key_id, now))

    def keys(self, sp_id: str) -> list[SpKey]:
        """The SP's keys, revoked ones included (digests only)."""
        sp = check_sp_id(sp_id)
        return call(self.store, lambda tx: tx.keys.sp_keys(sp), readonly=True)

    def authenticate(self, key: object) -> str | None:
        """The SP a presented key belongs to, or None for anything else: malformed,
        unknown, wrong secret or revoked (one answer for all, so nothing leaks)."""
        found = _KEY.fullmatch(key) if isinstance(key, str) else None
        if found is None:
            return None
        key_id, secret = found.groups()
        stored = call(self.store, lambda tx: tx.keys.sp_key(key_id), readonly=True)
        if stored is None or stored.revoked_at is not None:
            return None
        if not hmac.compare_digest(stored.digest, _digest(secret)):
            return None
        return stored.sp_id
