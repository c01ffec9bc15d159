"""Who may do what: API key checks for publishing and reading."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kansa.access.keys import secret_matches, split_token
from kansa.errors import AuthError, Forbidden, KansaError
from kansa.events.own import OWN_PRODUCT
from kansa.events.prepare import PreparedEvent
from kansa.records import ApiKey
from kansa.timeutil import utcnow
from kansa.words import Purpose, ReaderKind, Role


class KeySource(Protocol):
    """Where API keys are read from: any store (this rule imports no storage)."""

    def get_api_key(self, key_id: str) -> ApiKey | None: ...

    def api_key_changes(self, since: datetime | None) -> list[tuple[str, datetime]]: ...

    def touch_api_keys(self, used: Mapping[str, datetime]) -> None: ...


RECHECK_SECONDS = 0.5
"""How often a cache asks the store which keys were revoked or rotated: a revoked key is
refused by every process within this time."""
CHANGE_MARGIN = timedelta(seconds=30)
"""How far back each recheck looks before the newest change it saw: a change committed late
by another process (its clock a little behind) is still seen."""
TOUCH_SECONDS = 60.0
"""A key's last-used time is written at most this often per process."""


@dataclass
class KeyCache:
    """Checked keys, trusted for ``ttl`` seconds so a busy publisher is not a read per
    request. Every :data:`RECHECK_SECONDS` the store is asked which keys changed (one
    indexed read per process, not per request) and those are read again, so a revoked or
    rotated key stops working within a second. When a key is used is noted in memory and
    written at most once a minute per key."""

    store: KeySource
    ttl: float = 30.0

    def __post_init__(self) -> None:
        self._seen: dict[str, tuple[float, ApiKey]] = {}
        self._recheck_at = 0.0
        self._newest: datetime | None = None
        self._used: dict[str, datetime] = {}
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key of ``authorization``, read from the store on a cache miss (a blocking
        read: from async code, try :meth:`cached` first and call this off the event loop)."""
        key_id, secret = _credentials(authorization)
        self.recheck()
        key = self._fresh(key_id)
        if key is None:
            found = self.store.get_api_key(key_id)
            if found is None:
                raise AuthError("unknown API key")
            key = found
            self._seen[key_id] = (time.monotonic() + self.ttl, key)
        return self._used_now(_checked(key, secret, utcnow()))

    def cached(self, authorization: str | None) -> ApiKey | None:
        """The key of ``authorization`` from the cache alone (no I/O); None on a miss, or
        when the store is due to be asked which keys changed."""
        key_id, secret = _credentials(authorization)
        if time.monotonic() >= self._recheck_at:
            return None
        key = self._fresh(key_id)
        return None if key is None else self._used_now(_checked(key, secret, utcnow()))

    def minter(self, key_id: str) -> ApiKey | None:
        """The key ``key_id`` as cached (no I/O), to check that the key that minted a viewer
        token still stands; None on a miss or when a recheck is due."""
        return None if time.monotonic() >= self._recheck_at else self._fresh(key_id)

    def read_minter(self, key_id: str) -> ApiKey | None:
        """The key ``key_id``, read from the store on a miss (blocking); None if unknown."""
        self.recheck()
        key = self._fresh(key_id)
        if key is None:
            key = self.store.get_api_key(key_id)
            if key is not None:
                self._seen[key_id] = (time.monotonic() + self.ttl, key)
        return key

    def recheck(self) -> None:
        """If a second has passed: forget the keys changed since, and write the last-used
        times that are due (blocking I/O)."""
        now = time.monotonic()
        if now < self._recheck_at or not self._lock.acquire(blocking=False):
            return
        try:
            since = self._newest - CHANGE_MARGIN if self._newest is not None else None
            for key_id, changed in self.store.api_key_changes(since):
                cached = self._seen.get(key_id)
                if cached is not None and cached[1].changed_at != changed:
                    self._seen.pop(key_id, None)
                self._newest = max(self._newest or changed, changed)
            self._touch(now)
            self._recheck_at = now + RECHECK_SECONDS
        finally:
            self._lock.release()

    def _touch(self, now: float) -> None:
        due = {
            key_id: at
            for key_id, at in list(self._used.items())
            if now - self._written.get(key_id, -TOUCH_SECONDS) >= TOUCH_SECONDS
        }
        if not due:
            return
        try:
            self.store.touch_api_keys(due)
        except KansaError:
            return  # only a last-used time: tried again at the next recheck
        for key_id in due:
            self._written[key_id] = now
            self._used.pop(key_id, None)

    def _used_now(self, key: ApiKey) -> ApiKey:
        self._used[key.id] = utcnow()
        return key

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


def _checked(key: ApiKey, secret: str, now: datetime) -> ApiKey:
    """``key`` if ``secret`` is its own (or the one a rotation replaced, during the overlap),
    and it is neither revoked nor expired."""
    if key.revoked:
        raise AuthError("unknown API key")
    current = secret_matches(secret, key.secret_hash)
    previous = (
        key.previous_secret_hash is not None
        and key.previous_until is not None
        and now < key.previous_until
        and secret_matches(secret, key.previous_secret_hash)
    )
    if not (current or previous):
        raise AuthError("unknown API key")
    if key.expires_at is not None and now >= key.expires_at:
        raise AuthError("this API key has expired")
    return key


def check_minter(key: ApiKey | None, now: datetime) -> None:
    """A viewer token works while the key that minted it stands: AuthError once that key is
    revoked, expired or gone."""
    if key is None or key.revoked or (key.expires_at is not None and now >= key.expires_at):
        raise AuthError("the API key that minted this viewer token was revoked or has expired")


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
