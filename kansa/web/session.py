"""Console sessions: a signed cookie holding who signed in (tenant, reader kind, role,
actor), the session's id, when it began and ends, and its CSRF token. Any kansa process on
the same database (same secret) accepts the cookie; the store says only which sessions were
ended before their time (sign-out, an account changed, ``kansa session end``: see
:mod:`kansa.access.sessions`). A session opened by a viewer token ends with the token.

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
from kansa.timeutil import from_micros, to_micros
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
    id: str
    """Names the session (and every copy of its cookie) when it is ended on sign-out."""
    began: int
    """Unix time in microseconds: the session is refused once its subject is ended later."""
    until: int | None
    """Unix time no renewal goes past: the viewer token's expiry; None for an account."""

    def reader(self) -> Reader:
        return Reader(self.kind, self.role, self.tenant, self.actor_id, self.name)

    @property
    def began_at(self) -> datetime:
        return from_micros(self.began)

    @property
    def account(self) -> str | None:
        """The login of the account that signed in; None for a viewer."""
        return self.actor_id if self.kind == "account" else None

    def renewed(self, now: datetime, minutes: int) -> Session:
        return replace(self, expires=_end(now, minutes, self.until))

    def needs_renewal(self, now: datetime, minutes: int) -> bool:
        """Sliding expiry: renew once less than half the session is left (never past
        ``until``)."""
        if self.until is not None and self.expires >= self.until:
            return False
        return self.expires - int(now.timestamp()) < minutes * 30

    def seconds_left(self, now: datetime) -> int:
        return max(self.expires - int(now.timestamp()), 0)


def _end(now: datetime, minutes: int, until: int | None) -> int:
    end = int(now.timestamp()) + minutes * 60
    return end if until is None else min(end, until)


def start(reader: Reader, now: datetime, minutes: int, until: int | None = None) -> Session:
    """A new session for ``reader`` of ``minutes``, ending at ``until`` at the latest."""
    return Session(
        tenant=reader.tenant or "",
        kind=reader.kind,
        role=reader.role,
        actor_id=reader.actor_id or "",
        name=reader.name,
        expires=_end(now, minutes, until),
        csrf=secrets.token_urlsafe(24),
        id=secrets.token_urlsafe(16),
        began=to_micros(now),
        until=until,
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
