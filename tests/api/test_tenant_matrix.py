"""Every endpoint, every kind of reader bound to tenant A, aimed at tenant B: each answer is
401, 403 or 404, and nothing of B is read, written or changed — on every engine.

The table of requests is checked against the app's own OpenAPI: a route added later without
a row here fails ``test_every_route_is_in_the_matrix``, so no endpoint escapes the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kansa.access import tokens
from kansa.access.keys import SCOPES
from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Query
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.streaming.destinations import Destination, Filter
from kansa.timeutil import utcnow
from tests.helpers import new_key, pca_event

ICHIRO = {"id": "acc-1001", "name": "飯田橋 一郎", "login": "ichiro"}

TENANT_FREE = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/v1/catalog"),
    ("GET", "/api/v1/public-key"),
    ("GET", "/api/v1/admin/tenants"),  # a bound key lists its own (tests/api/test_admin.py)
}
"""Routes that hold no tenant's data, or name no tenant."""

KEYS: dict[str, str] = {}
"""The id of a key bound to each tenant the ``two`` fixture made."""
ADMIN = "/api/v1/admin"
ACCOUNT = ADMIN + "/tenants/{tenant}/accounts/{login}"

Call = Callable[[TestClient, dict[str, str], str, str], Any]
NOWHERE = "http://127.0.0.1:9/"
"""A webhook that refuses at once (the discard port): a destination never delivered to."""


def _event_id(store: Store, tenant: str) -> str:
    (event,) = store.search(Query(tenant=tenant, limit=1)).events
    return str(event["id"])


def _account_call(action: str) -> Call:
    """The operator's ``action`` on the account ``jiro`` of tenant ``b``."""
    return lambda c, h, b, _: c.post(
        f"{ADMIN}/tenants/{b}/accounts/jiro/{action}", headers=h, json={"role": "user"}
    )


def _on_destination(method: str, tail: str) -> Call:
    """A request on tenant B's destination (``dst-<B>``, made by the ``two`` fixture)."""
    body = {"seq": 0} if tail == "/rewind" else None

    def call(c: TestClient, h: dict[str, str], b: str, _: str) -> Any:
        json = {**body, "tenant": b} if body is not None else None
        return c.request(method, f"/api/v1/destinations/dst-{b}{tail}", headers=h, json=json)

    return call


MATRIX: dict[tuple[str, str], Call] = {
    ("POST", "/api/v1/events"): lambda c, h, b, _: c.post(
        "/api/v1/events", headers=h, json=pca_event(b, 99, id="matrix-intruder")
    ),
    ("GET", "/api/v1/events"): lambda c, h, b, _: c.get(
        "/api/v1/events", headers=h, params={"tenant": b}
    ),
    ("GET", "/api/v1/events/{event_id}"): lambda c, h, b, other: c.get(
        f"/api/v1/events/{other}", headers=h, params={"tenant": b}
    ),
    ("GET", "/api/v1/exports/{name}"): lambda c, h, b, _: c.get(
        "/api/v1/exports/events", headers=h, params={"tenant": b, "format": "jsonl"}
    ),
    ("POST", "/api/v1/viewer-tokens"): lambda c, h, b, _: c.post(
        "/api/v1/viewer-tokens",
        headers=h,
        json={"tenant": b, "actor": {"id": "x", "name": "x"}, "role": "admin"},
    ),
    ("GET", "/api/v1/checkpoints"): lambda c, h, b, _: c.get(
        "/api/v1/checkpoints", headers=h, params={"tenant": b}
    ),
    ("POST", "/api/v1/checkpoints"): lambda c, h, b, _: c.post(
        "/api/v1/checkpoints", headers=h, json={"tenant": b}
    ),
    ("GET", "/api/v1/tenants/{tenant}/legal-hold"): lambda c, h, b, _: c.get(
        f"/api/v1/tenants/{b}/legal-hold", headers=h
    ),
    ("POST", "/api/v1/tenants/{tenant}/legal-hold"): lambda c, h, b, _: c.post(
        f"/api/v1/tenants/{b}/legal-hold", headers=h, json={"reason": "intruder"}
    ),
    ("DELETE", "/api/v1/tenants/{tenant}/legal-hold"): lambda c, h, b, _: c.delete(
        f"/api/v1/tenants/{b}/legal-hold", headers=h, params={"reason": "intruder"}
    ),
    ("POST", "/api/v1/erasures"): lambda c, h, b, _: c.post(
        "/api/v1/erasures",
        headers=h,
        json={"tenant": b, "actor": ICHIRO["id"], "reason": "intruder"},
    ),
    ("GET", ADMIN + "/api-keys"): lambda c, h, b, _: c.get(
        f"{ADMIN}/api-keys", headers=h, params={"tenant": b}
    ),
    ("GET", ADMIN + "/api-keys/{key_id}"): lambda c, h, b, _: c.get(
        f"{ADMIN}/api-keys/{KEYS[b]}", headers=h
    ),
    ("POST", ADMIN + "/api-keys/{key_id}/revoke"): lambda c, h, b, _: c.post(
        f"{ADMIN}/api-keys/{KEYS[b]}/revoke", headers=h
    ),
    ("POST", ADMIN + "/api-keys/{key_id}/rotate"): lambda c, h, b, _: c.post(
        f"{ADMIN}/api-keys/{KEYS[b]}/rotate", headers=h, json={"overlap_minutes": 0}
    ),
    ("GET", ADMIN + "/tenants/{tenant}"): lambda c, h, b, _: c.get(
        f"{ADMIN}/tenants/{b}", headers=h
    ),
    ("POST", ADMIN + "/tenants/{tenant}/retire"): lambda c, h, b, _: c.post(
        f"{ADMIN}/tenants/{b}/retire", headers=h, json={"reason": "intruder"}
    ),
    ("GET", ADMIN + "/tenants/{tenant}/accounts"): lambda c, h, b, _: c.get(
        f"{ADMIN}/tenants/{b}/accounts", headers=h
    ),
    **{
        ("POST", f"{ACCOUNT}/{action}"): _account_call(action)
        for action in ("disable", "enable", "unlock", "role", "reset-password")
    },
    ("GET", "/api/v1/stream"): lambda c, h, b, _: c.get(
        "/api/v1/stream", headers=h, params={"tenant": b}
    ),
    ("GET", "/api/v1/destinations"): lambda c, h, b, _: c.get(
        "/api/v1/destinations", headers=h, params={"tenant": b}
    ),
    ("POST", "/api/v1/destinations"): lambda c, h, b, _: c.post(
        "/api/v1/destinations",
        headers=h,
        json={"name": "x", "kind": "webhook", "config": {"url": NOWHERE}, "tenant": b},
    ),
    **{
        (method, f"/api/v1/destinations/{{destination}}{tail}"): _on_destination(method, tail)
        for method, tail in (
            ("GET", ""),
            ("DELETE", ""),
            ("POST", "/pause"),
            ("POST", "/resume"),
            ("POST", "/rewind"),
            ("POST", "/test"),
        )
    },
}

READERS = [
    "read key",
    "publish+read key",
    "publish key",
    "every-scope key",
    "viewer admin",
    "viewer user",
    "none",
]


@pytest.fixture
def two(store: Store, catalog: Catalog, tenant_id: str) -> tuple[str, str]:
    a, b = tenant_id + "-a", tenant_id + "-b"
    for tenant in (a, b):
        store.create_tenant(tenant, name=tenant, layout="pca-id", tz="Asia/Tokyo", lang="ja")
        login = pca_event(tenant, 1, action="auth.login", params={}, actor=ICHIRO)
        login["occurred_at"] = utcnow().isoformat()
        store.append(prepare([login], catalog))
        KEYS[tenant] = new_key(store, tenant=tenant, scopes=frozenset({"publish"})).split("_")[1]
        store.create_account(tenant, "jiro", name="二郎", role="admin", password_hash="x")
        store.create_destination(
            Destination(
                id=f"dst-{tenant}",
                tenant=tenant,
                name="siem",
                kind="webhook",
                config={"url": NOWHERE},
                sealed=None,
                filter=Filter(),
                start="now",
                paused=True,
                created_at=utcnow(),
            )
        )
    return a, b


def _auth(reader: str, runtime: Runtime, store: Store, tenant: str) -> dict[str, str]:
    scopes = {
        "read key": {"read"},
        "publish+read key": {"publish", "read"},
        "publish key": {"publish"},
        "every-scope key": set(SCOPES),
    }
    if reader in scopes:
        key = new_key(store, tenant=tenant, scopes=frozenset(scopes[reader]))
        return {"Authorization": f"Bearer {key}"}
    if reader == "none":
        return {}
    minted = tokens.mint(
        runtime.secret_key(),
        tenant=tenant,
        actor_id=ICHIRO["id"],
        name=ICHIRO["name"],
        role=reader.removeprefix("viewer "),
        ttl=600,
        now=utcnow(),
    )
    return {"Authorization": f"Bearer {minted.token}"}


def _state(store: Store, tenant: str) -> tuple[Any, ...]:
    record = store.get_tenant(tenant)
    assert record is not None
    return (
        store.count_events(tenant),
        record.last_seq,
        record.last_hash,
        record.legal_hold,
        record.retired_at,
        len(store.checkpoints(tenant)),
        [(k.secret_hash, k.revoked) for k in store.list_api_keys(tenant)],
        store.list_accounts(tenant),
        store.get_destination(f"dst-{tenant}"),
        store.cursors(f"dst-{tenant}"),
    )


def test_every_route_is_in_the_matrix(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    routes = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert routes - TENANT_FREE == set(MATRIX), "add the new route to MATRIX"


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("route", list(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_no_reader_of_one_tenant_reaches_another(
    client: TestClient,
    runtime: Runtime,
    store: Store,
    two: tuple[str, str],
    reader: str,
    route: tuple[str, str],
) -> None:
    a, b = two
    before = _state(store, b)
    other = _event_id(store, b)
    reply = MATRIX[route](client, _auth(reader, runtime, store, a), b, other)
    assert reply.status_code in (401, 403, 404), (reader, route, reply.status_code, reply.text)
    assert other not in reply.text, "another tenant's event id leaked"
    assert _state(store, b) == before, "another tenant's data changed"


ENTITLED = {
    ("POST", "/api/v1/events"): ("publish key", {201}),
    ("GET", "/api/v1/events"): ("viewer admin", {200}),
    ("GET", "/api/v1/events/{event_id}"): ("viewer admin", {200}),
    ("GET", "/api/v1/exports/{name}"): ("read key", {200}),
    ("POST", "/api/v1/viewer-tokens"): ("every-scope key", {200, 201}),
    ("GET", "/api/v1/checkpoints"): ("read key", {200}),
    ("POST", "/api/v1/checkpoints"): ("every-scope key", {200, 201}),
    ("GET", "/api/v1/tenants/{tenant}/legal-hold"): ("read key", {200}),
    ("POST", "/api/v1/tenants/{tenant}/legal-hold"): ("every-scope key", {200, 201}),
    ("DELETE", "/api/v1/tenants/{tenant}/legal-hold"): ("every-scope key", {200, 409}),
    ("POST", "/api/v1/erasures"): ("every-scope key", {201}),
    **{route: ("every-scope key", {200}) for route in MATRIX if route[1].startswith(ADMIN)},
    ("GET", "/api/v1/stream"): ("read key", {200}),
    ("GET", "/api/v1/destinations"): ("read key", {200}),
    ("POST", "/api/v1/destinations"): ("every-scope key", {201}),
    ("GET", "/api/v1/destinations/{destination}"): ("read key", {200}),
    ("DELETE", "/api/v1/destinations/{destination}"): ("every-scope key", {200}),
    ("POST", "/api/v1/destinations/{destination}/pause"): ("every-scope key", {200}),
    ("POST", "/api/v1/destinations/{destination}/resume"): ("every-scope key", {200}),
    ("POST", "/api/v1/destinations/{destination}/rewind"): ("every-scope key", {200}),
    ("POST", "/api/v1/destinations/{destination}/test"): ("every-scope key", {200}),
}


@pytest.mark.parametrize("route", list(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_the_same_request_by_a_reader_of_that_tenant_succeeds(
    client: TestClient, runtime: Runtime, store: Store, two: tuple[str, str], route: tuple[str, str]
) -> None:
    """The control: each request of the matrix is well formed, so its refusals above come
    from scoping, not from a mistake in the request."""
    _, b = two
    reader, ok = ENTITLED[route]
    reply = MATRIX[route](client, _auth(reader, runtime, store, b), b, _event_id(store, b))
    assert reply.status_code in ok, (route, reply.status_code, reply.text)
