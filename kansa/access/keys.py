"""API keys: made, shown once, kept only as a hash, and checked.

A key reads ``kansa_<id>_<secret>``: the id finds the stored record, the 32-byte random secret
is compared by its SHA-256 (a slow password hash buys nothing for a random secret).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from kansa.errors import AuthError, InvalidInput, Problem

SCOPES = frozenset({"publish", "read", "mint", "hold", "checkpoint", "admin"})
"""What a key may do, each apart from the others (none implies another):

- ``publish`` — send events;
- ``read`` — search and export a tenant's log, read its checkpoints and legal hold;
- ``mint`` — mint viewer tokens (a person then reads the console as the token's role says);
- ``hold`` — place and release legal holds;
- ``checkpoint`` — sign a tenant's head on demand;
- ``admin`` — the operator API: list, revoke and rotate keys, manage accounts and tenants;
  erase one person's data.
"""
READ_BEFORE = frozenset({"read", "mint", "hold", "checkpoint"})
"""What a ``read`` key could do before the scopes were split: keys made then keep it."""
PREFIX = "kansa_"


@dataclass(frozen=True, slots=True)
class NewKey:
    id: str
    secret: str

    @property
    def token(self) -> str:
        return f"{PREFIX}{self.id}_{self.secret}"

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)


def make_key() -> NewKey:
    return NewKey(secrets.token_hex(6), secrets.token_urlsafe(32))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str]:
    """The (id, secret) of a presented key; AuthError when it is not shaped like one."""
    if not token.startswith(PREFIX):
        raise AuthError("not a kansa API key")
    key_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or len(key_id) != 12 or not secret:
        raise AuthError("not a kansa API key")
    return key_id, secret


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def parse_scopes(text: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = scopes - SCOPES
    if unknown or not scopes:
        raise InvalidInput(
            [Problem("scopes", f"must be a comma-separated list of {', '.join(sorted(SCOPES))}")]
        )
    return scopes
