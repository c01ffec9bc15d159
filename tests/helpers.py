"""Helpers tests import: a publisher's key, a valid event, waiting for something to happen,
what a tenant has stored, the parts of a stored event a test knows it has. (Fixtures stay in
the ``conftest.py`` files; nothing imports those.)"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kansa.access import tokens
from kansa.access.accounts import hash_password
from kansa.access.keys import make_key
from kansa.access.tokens import ViewerToken
from kansa.catalog import Catalog
from kansa.events.prepare import PreparedEvent, prepare
from kansa.events.stored import ActorOf, StoredEvent
from kansa.integrity.chain import Walk
from kansa.integrity.verify import Keys, verify_store
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.raw import execute

ROOT = Path(__file__).resolve().parent.parent
"""The repository's root."""


def new_key(
    store: Store,
    *,
    app: str = "PCA Hub",
    tenant: str | None = None,
    scopes: frozenset[str] = frozenset({"publish", "read"}),
) -> str:
    key = make_key()
    store.create_api_key(key.id, app=app, tenant=tenant, scopes=scopes, secret_hash=key.secret_hash)
    return key.token


@functools.cache
def password_hash(password: str) -> str:
    """``hash_password(password)``, made once a session: an argon2id hash costs ~0.15 s of
    CPU, and an account a test makes to sign in with only needs one that verifies. Tests of
    hashing itself call ``hash_password``."""
    return hash_password(password)


def pca_event(tenant_id: str, number: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid PCA ID ``user.create`` event as a publisher sends it."""
    event: dict[str, Any] = {
        "id": f"evt-{number}",
        "tenant": {"id": tenant_id, "name": "iidabashi-company"},
        "app": "PCA Hub",
        "action": "user.create",
        "occurred_at": "2026-11-21T10:00:00+09:00",
        "result": "success",
        "actor": {
            "id": "acc-1001",
            "name": "飯田橋 一郎",
            "login": "ichiro",
            "email": "ichiro@example.jp",
        },
        "ip": "12.34.56.78",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "targets": [{"type": "user", "id": "acc-1002", "name": "飯田橋 二郎", "login": "jiro"}],
        "params": {"login": "jiro"},
        "details": {"changed": ["role"]},
        "trace_id": "7f9c0000aa",
    }
    event.update(overrides)
    return event


def intact(store: Store, tenant_id: str, key: Keys = None) -> Walk:
    """The walk of one tenant's chain by ``verify_store`` (with ``key``, its checkpoints
    too), asserted unbroken — the break named when it is not — for a test to check more."""
    (walk,) = verify_store(store, tenant_id, key)
    assert walk.broken is None, walk.broken
    return walk


def one_event(catalog: Catalog, tenant: str, number: int) -> list[PreparedEvent]:
    """A request of one prepared event: :func:`pca_event` ``number`` of ``tenant``."""
    return prepare([pca_event(tenant, number)], catalog)


def wait_for(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def stored_ids(url: str, tenant: str) -> list[str]:
    """The client ids of the tenant's stored events, one per stored row."""
    rows = execute(url, "SELECT client_id FROM events WHERE tenant_id = ?", tenant)
    return sorted(str(row[0]) for row in rows)


def actor_of(event: StoredEvent) -> ActorOf:
    """The actor of an event that has one."""
    assert event["actor"] is not None
    return event["actor"]


def details_of(event: StoredEvent) -> dict[str, Any]:
    """The details of an event that has them."""
    assert event["details"] is not None
    return event["details"]


def viewer_token(
    runtime: Runtime,
    tenant: str,
    *,
    name: str = "飯田橋 二郎",
    ttl: int = 60,
    now: datetime | None = None,
) -> ViewerToken:
    """A viewer token for the general user ``u-jiro`` of ``tenant``, minted with the
    runtime's secret as a host product would."""
    return tokens.mint(
        runtime.secret_key(),
        tenant=tenant,
        actor_id="u-jiro",
        name=name,
        role="user",
        ttl=ttl,
        now=now or utcnow(),
    )
