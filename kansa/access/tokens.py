"""Viewer tokens: short-lived, signed passes a host product's backend mints so one of its
users can read their organisation's log in kansa without a kansa password.

A token reads ``kv1.<payload>.<signature>``: the payload is base64url JSON ``{"t": tenant,
"a": actor id, "n": name, "r": role, "iat", "exp", "jti", "k": the id of the API key that
minted it}``; the signature is HMAC-SHA256 of ``kv1.<payload>`` with the instance's secret
key. Nothing else can make one. Tokens minted before ``k`` was added lack it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from kansa.access.readers import Reader
from kansa.errors import AuthError, InvalidInput, Problem
from kansa.words import ROLES, is_role

PREFIX = "kv1"
MAX_TTL = 3600
DEFAULT_TTL = 600


@dataclass(frozen=True, slots=True)
class ViewerToken:
    token: str
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, message: str) -> str:
    return _b64(hmac.new(secret, message.encode(), hashlib.sha256).digest())


def mint(
    secret: bytes,
    *,
    tenant: str,
    actor_id: str,
    name: str,
    role: str,
    ttl: int,
    now: datetime,
    key: str | None = None,
) -> ViewerToken:
    """A signed token; ``key`` is the id of the API key minting it (its rate is the key's)."""
    if role not in ROLES:
        raise InvalidInput([Problem("role", "must be admin or user")])
    if not 1 <= ttl <= MAX_TTL:
        raise InvalidInput([Problem("ttl_seconds", f"must be between 1 and {MAX_TTL}")])
    issued = int(now.timestamp())
    payload = {
        "t": tenant,
        "a": actor_id,
        "n": name,
        "r": role,
        "iat": issued,
        "exp": issued + ttl,
        "jti": secrets.token_hex(8),
    }
    if key is not None:
        payload["k"] = key
    body = f"{PREFIX}.{_b64(orjson.dumps(payload))}"
    return ViewerToken(f"{body}.{_sign(secret, body)}", issued + ttl)


def is_viewer_token(token: str) -> bool:
    return token.startswith(PREFIX + ".")


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says: who reads, until when (Unix time), and the id of the API
    key that minted it (None for a token minted before tokens named it)."""

    reader: Reader
    expires: int
    key: str | None = None


def read(secret: bytes, token: str, *, now: datetime) -> Reader:
    """The reader a token stands for; AuthError when forged, malformed or expired."""
    return verify(secret, token, now=now).reader


def verify(secret: bytes, token: str, *, now: datetime) -> Claims:
    """What a token says, once its signature is checked; AuthError when forged, malformed
    or expired."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise AuthError("not a viewer token")
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(secret, body), parts[2]):
        raise AuthError("viewer token signature does not match")
    try:
        payload: dict[str, Any] = orjson.loads(_unb64(parts[1]))
    except (ValueError, orjson.JSONDecodeError):
        raise AuthError("viewer token is malformed") from None
    if not isinstance(payload.get("exp"), int) or payload["exp"] <= int(now.timestamp()):
        raise AuthError("viewer token has expired")
    role = payload.get("r")
    if not is_role(role) or not isinstance(payload.get("t"), str):
        raise AuthError("viewer token is malformed")
    reader = Reader(
        "viewer",
        role,
        payload["t"],
        str(payload.get("a")),
        str(payload.get("n") or payload.get("a")),
    )
    key = payload.get("k")
    return Claims(reader, payload["exp"], key if isinstance(key, str) else None)
