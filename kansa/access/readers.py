"""Who may do what: API key checks for publishing and reading."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kansa.access.keys import secret_matches, split_token
from kansa.errors import AuthError, Forbidden
from kansa.events.own import OWN_PRODUCT
from kansa.events.prepare import PreparedEvent
from kansa.records import ApiKey
from kansa.words import Purpose, ReaderKind, Role


class KeySource(Protocol):
    """Where API keys are read from: any store (this rule imports no storage)."""

    def get_api_key(self, key_id: str) -> ApiKey | None: ...


@dataclass
class KeyCache:
    """Checked keys, trusted for ``ttl`` seconds so a busy publisher is not a read per
    request; a revoked key stops working within that time."""

    store: KeySource
    ttl: float = 30.0

    def __post_init__(self) -> None:
        self._seen: dict[str, tuple[float, ApiKey]] = {}

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key of ``authorization``, read from the store on a cache miss (a blocking
        read: from async code, try :meth:`cached` first and call this off the event loop)."""
        key_id, secret = _credentials(authorization)
        key = self._fresh(key_id)
        if key is None:
            found = self.store.get_api_key(key_id)
            if found is None:
                raise AuthError("unknown API key")
            key = found
            self._seen[key_id] = (time.monotonic() + self.ttl, key)
        return _checked(key, secret)

    def cached(self, authorization: str | None) -> ApiKey | None:
        """The key of ``authorization`` from the cache alone (no I/O); None on a miss."""
        key_id, secret = _credentials(authorization)
        key = self._fresh(key_id)
        return None if key is None else _checked(key, secret)

    def _fresh(self, key_id: str) -> ApiKey | None:
        cached = self._seen.get(key_id)
        return cached[1] if cached is not None and cached[0] > time.monotonic() else None


def _credentials(authorization: str | None) -> tuple[str, str]:
    if not authorization:
        raise AuthError("missing Authorization header: send 'Authorization: Bearer <key>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization must be 'Bearer <api key>'")
    return split_token(token.strip())


def _checked(key: ApiKey, secret: str) -> ApiKey:
    if key.revoked or not secret_matches(secret, key.secret_hash):
        raise AuthError("unknown API key")
    return key


def require_scope(key: ApiKey, scope: str) -> None:
    if scope not in key.scopes:
        raise Forbidden(f"this API key lacks the {scope!r} scope")


def check_publish(key: ApiKey, events: Sequence[PreparedEvent], single: bool) -> None:
    """A key bound to a tenant publishes for that tenant only, and nobody publishes kansa's
    own events."""
    require_scope(key, "publish")
    for index, event in enumerate(events):
        if event.product == OWN_PRODUCT:
            where = "action" if single else f"events[{index}].action"
            raise Forbidden(f"{where}: {event.action!r} is recorded by kansa itself only")
    if key.tenant is None:
        return
    for index, event in enumerate(events):
        if event.tenant_id != key.tenant:
            where = "tenant.id" if single else f"events[{index}].tenant.id"
            raise Forbidden(
                f"{where}: this API key may publish only for tenant {key.tenant!r}, "
                f"not {event.tenant_id!r}"
            )


@dataclass(frozen=True, slots=True)
class Reader:
    """Someone reading a tenant's log: an API key (a host product's backend), a viewer
    token (a person sent by the host product), or a signed-in account."""

    kind: ReaderKind
    """``key``, ``viewer``, ``account`` or ``operator``."""
    role: Role
    """``admin`` or ``user``; a key reads as an admin."""
    tenant: str | None
    """The one tenant this reader is bound to; None for a key given ``tenant=`` per request."""
    actor_id: str | None
    name: str

    @property
    def purpose(self) -> Purpose:
        """Machines read as for an export; people read as on the log screen."""
        return "export" if self.kind == "key" else "screen"

    def actor(self) -> dict[str, str]:
        """This reader as the actor of an event recording what they did."""
        if self.kind == "key":
            return {"id": f"apikey:{self.actor_id}", "name": self.name, "type": "api_key"}
        return {"id": self.actor_id or "unknown", "name": self.name, "type": self.kind}


def reader_of_key(key: ApiKey, scope: str = "read") -> Reader:
    """The reader a key with ``scope`` is (Forbidden without it)."""
    require_scope(key, scope)
    return Reader("key", "admin", key.tenant, key.id, key.app)
