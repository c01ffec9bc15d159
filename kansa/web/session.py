"""Console sessions: a signed cookie holding who signed in (tenant, reader kind, role,
actor), when the session ends and its CSRF token. Nothing is kept on the server, so any
kansa process on the same database (same secret) accepts the cookie.

The cookie reads ``ks1.<payload>.<signature>``: base64url JSON and an HMAC-SHA256 of
``ks1.<payload>`` with a key derived from the instance secret (so a viewer token can never
pass for a session, nor the reverse).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from kansa.access.readers import Reader
from kansa.words import ReaderKind, Role, is_role

PREFIX = "ks1"
COOKIE = "kansa_session"
SIGNIN_COOKIE = "kansa_signin"
"""A random value the sign-in form repeats (double-submit), before there is a session."""
LANG_COOKIE = "kansa_lang"
_PURPOSE = b"kansa console session v1"


@dataclass(frozen=True, slots=True)
class Session:
    tenant: str
    kind: ReaderKind
    """``account`` (signed in with a password) or ``viewer`` (entered with a viewer token)."""
    role: Role
    actor_id: str
    name: str
    expires: int
    """Unix time after which the session is refused."""
    csrf: str

    def reader(self) -> Reader:
        return Reader(self.kind, self.role, self.tenant, self.actor_id, self.name)

    def renewed(self, now: datetime, minutes: int) -> Session:
        return replace(self, expires=int(now.timestamp()) + minutes * 60)

    def needs_renewal(self, now: datetime, minutes: int) -> bool:
        """Sliding expiry: renew once less than half the session is left."""
        return self.expires - int(now.timestamp()) < minutes * 30


def start(reader: Reader, now: datetime, minutes: int) -> Session:
    return Session(
        tenant=reader.tenant or "",
        kind=reader.kind,
        role=reader.role,
        actor_id=reader.actor_id or "",
        name=reader.name,
        expires=int(now.timestamp()) + minutes * 60,
        csrf=secrets.token_urlsafe(24),
    )


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _sign(secret: bytes, body: str) -> str:
    digest = hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def seal(secret: bytes, session: Session) -> str:
    payload = base64.urlsafe_b64encode(orjson.dumps(asdict(session))).decode().rstrip("=")
    body = f"{PREFIX}.{payload}"
    return f"{body}.{_sign(secret, body)}"


def unseal(secret: bytes, text: str | None, now: datetime) -> Session | None:
    """The session a cookie holds; None when it is missing, forged, malformed or expired."""
    if not text:
        return None
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    if not hmac.compare_digest(_sign(secret, f"{parts[0]}.{parts[1]}"), parts[2]):
        return None
    try:
        data: dict[str, Any] = orjson.loads(
            base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        )
        session = Session(**data)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        return None
    if session.expires <= int(now.timestamp()) or not is_role(session.role):
        return None
    return session


def same(expected: str | None, given: str | None) -> bool:
    """A CSRF check: both present and equal, compared in constant time."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())  # bytes: any characters
