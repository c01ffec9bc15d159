"""Who may see what: no reader ever reaches another tenant's events or another user's, and
each sees only the window and the event types their layout allows — on every engine."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kansa.access import tokens
from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import new_key, pca_event

ICHIRO = {"id": "acc-1001", "name": "飯田橋 一郎", "login": "ichiro"}
JIRO = {"id": "acc-1002", "name": "飯田橋 二郎", "login": "jiro"}


def pca(
    tenant: str, n: int, action: str, actor: dict[str, str], days: float, **extra: Any
) -> dict[str, Any]:
    event = pca_event(
        tenant,
        n,
        action=action,
        actor=actor,
        occurred_at=(utcnow() - timedelta(days=days)).isoformat(),
        **extra,
    )
    return event


@pytest.fixture
def tenants(store: Store, catalog: Catalog, tenant_id: str) -> tuple[str, str, dict[str, str]]:
    """Two PCA ID tenants; returns (a, b, ids of a's events by name)."""
    a, b = tenant_id + "-a", tenant_id + "-b"
    for tenant in (a, b):
        store.create_tenant(tenant, name=tenant, layout="pca-id", tz="Asia/Tokyo", lang="ja")
    receipts = store.append(
        prepare(
            [
                pca(a, 1, "auth.login", ICHIRO, 1, params={}),
                pca(a, 2, "auth.login", JIRO, 2, params={}),
                pca(a, 3, "user.password.change", JIRO, 3, params={}),
                pca(a, 4, "user.create", ICHIRO, 4),  # CSV only (not on screen)
                pca(
                    a, 5, "org.update", ICHIRO, 5, params={"org": "本社"}
                ),  # organisation: CSV only
                pca(a, 6, "auth.login", JIRO, 20, params={}),  # outside the 7-day screen window
                pca(b, 1, "auth.login", ICHIRO, 1, params={}),
            ],
            catalog,
        )
    )
    names = [
        "a-login-ichiro",
        "a-login-jiro",
        "a-password-jiro",
        "a-user-create",
        "a-org-update",
        "a-old-login-jiro",
        "b-login",
    ]
    return a, b, {name: r.id for name, r in zip(names, receipts, strict=True)}


def viewer(
    runtime: Runtime, tenant: str, actor: dict[str, str], role: str, ttl: int = 600
) -> dict[str, str]:
    minted = tokens.mint(
        runtime.secret_key(),
        tenant=tenant,
        actor_id=actor["id"],
        name=actor["name"],
        role=role,
        ttl=ttl,
        now=utcnow(),
    )
    return {"Authorization": f"Bearer {minted.token}"}


def listed(client: TestClient, auth: dict[str, str], **params: Any) -> Any:
    return client.get("/api/v1/events", params=params, headers=auth)


def test_an_admin_on_screen_sees_the_layouts_window_and_screen_types(
    client: TestClient, runtime: Runtime, tenants: tuple[str, str, dict[str, str]]
) -> None:
    a, _, ev = tenants
    reply = listed(client, viewer(runtime, a, ICHIRO, "admin"))
    assert reply.status_code == 200
    shown = {e["id"] for e in reply.json()["events"]}
    assert shown == {ev["a-login-ichiro"], ev["a-login-jiro"], ev["a-password-jiro"]}


def test_a_key_reads_as_for_export_every_type_within_two_years(
    client: TestClient, store: Store, tenants: tuple[str, str, dict[str, str]]
) -> None:
    a, _, ev = tenants
    key = {"Authorization": f"Bearer {new_key(store, tenant=a, scopes=frozenset({'read'}))}"}
    shown = {e["id"] for e in listed(client, key).json()["events"]}
    assert shown == {v for k, v in ev.items() if k.startswith("a-")}


def test_a_general_user_sees_only_their_own_screen_events(
    client: TestClient, runtime: Runtime, tenants: tuple[str, str, dict[str, str]]
) -> None:
    a, _, ev = tenants
    jiro = viewer(runtime, a, JIRO, "user")
    shown = {e["id"] for e in listed(client, jiro).json()["events"]}
    assert shown == {ev["a-login-jiro"], ev["a-password-jiro"]}
    # Another user's event, even by id, does not exist for them.
    assert client.get(f"/api/v1/events/{ev['a-login-ichiro']}", headers=jiro).status_code == 404
    assert client.get(f"/api/v1/events/{ev['a-login-jiro']}", headers=jiro).status_code == 200
    # Asking for someone else's events by filter changes nothing.
    assert listed(client, jiro, actor="ichiro").json()["events"] == []


def test_a_request_outside_the_window_is_refused_with_the_range(
    client: TestClient, runtime: Runtime, tenants: tuple[str, str, dict[str, str]]
) -> None:
    a, _, ev = tenants
    admin = viewer(runtime, a, ICHIRO, "admin")
    since = (utcnow() - timedelta(days=30)).date().isoformat()
    reply = listed(client, admin, **{"from": since})
    assert reply.status_code == 400
    problem = reply.json()["problems"][0]
    assert problem["path"] == "from" and "the last 7 days" in problem["message"]
    old = client.get(f"/api/v1/events/{ev['a-old-login-jiro']}", headers=admin)
    assert old.status_code == 404


@pytest.mark.parametrize("reader", ["bound key", "viewer admin", "viewer user"])
def test_no_reader_reaches_another_tenant(
    client: TestClient,
    runtime: Runtime,
    store: Store,
    tenants: tuple[str, str, dict[str, str]],
    reader: str,
) -> None:
    a, b, ev = tenants
    auth = {
        "bound key": lambda: {
            "Authorization": "Bearer "
            + new_key(store, tenant=a, scopes=frozenset({"read", "mint"}))
        },
        "viewer admin": lambda: viewer(runtime, a, ICHIRO, "admin"),
        "viewer user": lambda: viewer(runtime, a, ICHIRO, "user"),
    }[reader]()
    other = ev["b-login"]
    assert listed(client, auth, tenant=b).status_code == 403
    assert (
        client.get(f"/api/v1/events/{other}", params={"tenant": b}, headers=auth).status_code == 403
    )
    assert client.get(f"/api/v1/events/{other}", headers=auth).status_code == 404
    assert listed(client, auth, q=f"trace:{other}").json()["events"] == []
    mint = client.post(
        "/api/v1/viewer-tokens",
        headers=auth,
        json={"tenant": b, "actor": {"id": "x"}, "role": "admin"},
    )
    assert mint.status_code in (401, 403)


def test_an_unbound_key_must_name_the_tenant_and_one_without_read_scope_reads_nothing(
    client: TestClient, store: Store, tenants: tuple[str, str, dict[str, str]]
) -> None:
    a, _, _ = tenants
    unbound = {"Authorization": f"Bearer {new_key(store, scopes=frozenset({'read'}))}"}
    reply = listed(client, unbound)
    assert reply.status_code == 400 and reply.json()["problems"][0]["path"] == "tenant"
    assert listed(client, unbound, tenant="no-such-tenant").status_code == 404
    publisher = {"Authorization": f"Bearer {new_key(store, scopes=frozenset({'publish'}))}"}
    assert listed(client, publisher, tenant=a).status_code == 403
    assert listed(client, {}, tenant=a).status_code == 401


def test_viewer_tokens_are_minted_by_keys_and_work_as_bearer(
    client: TestClient, store: Store, tenants: tuple[str, str, dict[str, str]]
) -> None:
    a, b, _ = tenants
    reader = {"Authorization": f"Bearer {new_key(store, tenant=a, scopes=frozenset({'read'}))}"}
    key = {"Authorization": f"Bearer {new_key(store, tenant=a, scopes=frozenset({'mint'}))}"}
    asked = {"actor": {"id": JIRO["id"], "name": JIRO["name"]}, "role": "admin"}
    refused = client.post("/api/v1/viewer-tokens", headers=reader, json=asked)
    assert refused.status_code == 403 and "'mint'" in refused.json()["detail"]
    minted = client.post(
        "/api/v1/viewer-tokens",
        headers=key,
        json={"actor": {"id": JIRO["id"], "name": JIRO["name"]}, "role": "user"},
    )
    assert minted.status_code == 201
    body = minted.json()
    assert body["tenant"] == a and body["role"] == "user" and body["token"].startswith("kv1.")
    token = {"Authorization": f"Bearer {body['token']}"}
    assert listed(client, token).status_code == 200
    too_long = client.post(
        "/api/v1/viewer-tokens", headers=key, json={"actor": {"id": "x"}, "ttl_seconds": 7200}
    )
    assert too_long.status_code == 422
    elsewhere = client.post(
        "/api/v1/viewer-tokens", headers=key, json={"tenant": b, "actor": {"id": "x"}}
    )
    assert elsewhere.status_code == 403


def test_viewer_tokens_expire_and_cannot_be_forged(
    client: TestClient, runtime: Runtime, tenants: tuple[str, str, dict[str, str]]
) -> None:
    a, _, _ = tenants
    secret = runtime.secret_key()
    expired = tokens.mint(
        secret,
        tenant=a,
        actor_id="x",
        name="x",
        role="admin",
        ttl=60,
        now=utcnow() - timedelta(hours=2),
    )
    reply = listed(client, {"Authorization": f"Bearer {expired.token}"})
    assert reply.status_code == 401 and "expired" in reply.json()["detail"]
    good = tokens.mint(
        secret, tenant=a, actor_id=JIRO["id"], name="jiro", role="user", ttl=600, now=utcnow()
    ).token
    head, payload, signature = good.split(".")
    import base64

    raised = base64.urlsafe_b64decode(payload + "==").replace(b'"r":"user"', b'"r":"admin"')
    forged = f"{head}.{base64.urlsafe_b64encode(raised).decode().rstrip('=')}.{signature}"
    other_key = tokens.mint(
        b"k" * 32, tenant=a, actor_id="x", name="x", role="admin", ttl=600, now=utcnow()
    ).token
    for bad in (forged, good[:-2] + "AA", other_key, "kv1.e30.", "kv1.x.y.z"):
        assert listed(client, {"Authorization": f"Bearer {bad}"}).status_code == 401, bad
