"""Checkpoints, the public key and legal holds over HTTP — on every engine."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Filters, Query
from kansa.integrity.signing import Checkpoint, PublicKey
from kansa.server.runtime import Runtime
from kansa.store import Store
from tests.api.test_access import ICHIRO, viewer
from tests.helpers import actor_of, new_key, pca_event
from tests.raw import execute


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_public_key_is_served_to_anyone(client: TestClient, runtime: Runtime) -> None:
    reply = client.get("/api/v1/public-key")
    assert reply.status_code == 200
    body = reply.json()
    assert body["algorithm"] == "Ed25519" and body["key_id"] == runtime.signer().key_id
    assert PublicKey.from_pem(body["public_key"].encode()).key_id == body["key_id"]


def test_a_bound_key_signs_and_lists_its_tenants_checkpoints_only(
    client: TestClient, store: Store, runtime: Runtime, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    reader = bearer(new_key(store, tenant=tenant_id, scopes=frozenset({"read"})))
    assert client.post("/api/v1/checkpoints", headers=reader).status_code == 403
    own = bearer(new_key(store, tenant=tenant_id, scopes=frozenset({"read", "checkpoint"})))
    made = client.post("/api/v1/checkpoints", headers=own)
    assert made.status_code == 201, made.text
    checkpoint = Checkpoint.from_dict(made.json())
    assert checkpoint.seq == 3 and runtime.signer().public_key.checks(checkpoint)
    again = client.post("/api/v1/checkpoints", headers=own, json={"tenant": tenant_id})
    assert again.status_code == 200 and again.json() == made.json()
    listed = client.get("/api/v1/checkpoints", headers=own)
    assert listed.status_code == 200
    body = listed.json()
    assert body["checkpoints"] == [made.json()] and body["head"]["seq"] == 3
    assert body["next_before"] is None and body["chain_start"]["seq"] == 1
    other = tenant_id + "-other"
    for reply in (
        client.get("/api/v1/checkpoints", headers=own, params={"tenant": other}),
        client.post("/api/v1/checkpoints", headers=own, json={"tenant": other}),
    ):
        assert reply.status_code == 403


def test_checkpoints_are_paged_newest_first_and_not_for_general_users(
    client: TestClient, store: Store, runtime: Runtime, catalog: Catalog, tenant_id: str
) -> None:
    unbound = bearer(new_key(store, scopes=frozenset({"read", "checkpoint"})))
    for n in range(1, 4):
        store.append(prepare([pca_event(tenant_id, n)], catalog))
        assert client.post("/api/v1/checkpoints", headers=unbound, json={"tenant": tenant_id})
    page = client.get(
        "/api/v1/checkpoints", headers=unbound, params={"tenant": tenant_id, "limit": 2}
    ).json()
    assert [c["seq"] for c in page["checkpoints"]] == [3, 2] and page["next_before"] == 2
    rest = client.get(
        "/api/v1/checkpoints", headers=unbound, params={"tenant": tenant_id, "before": 2}
    ).json()
    assert [c["seq"] for c in rest["checkpoints"]] == [1]
    admin = viewer(runtime, tenant_id, ICHIRO, "admin")
    assert client.get("/api/v1/checkpoints", headers=admin).status_code == 200
    user = viewer(runtime, tenant_id, ICHIRO, "user")
    assert client.get("/api/v1/checkpoints", headers=user).status_code == 403
    assert client.post("/api/v1/checkpoints", headers=unbound).status_code == 400  # no tenant


def test_a_chain_that_does_not_verify_is_not_signed(
    client: TestClient, store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    execute(
        store_url,
        "UPDATE events SET actor_name = 'x' WHERE tenant_id = ? AND seq = 2",
        tenant_id,
        bypass_triggers=True,
    )
    key = bearer(new_key(store, tenant=tenant_id, scopes=frozenset({"checkpoint"})))
    reply = client.post("/api/v1/checkpoints", headers=key)
    assert reply.status_code == 409 and "seq 2" in reply.json()["detail"]


def test_a_legal_hold_is_placed_shown_and_released_by_a_key_and_recorded(
    client: TestClient, store: Store, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare([pca_event(tenant_id)], catalog))
    own = bearer(new_key(store, tenant=tenant_id, scopes=frozenset({"read", "hold"})))
    path = f"/api/v1/tenants/{tenant_id}/legal-hold"
    assert client.get(path, headers=own).json()["held"] is False
    placed = client.post(path, headers=own, json={"reason": "訴訟 2026-17"})
    assert placed.status_code == 201
    assert placed.json()["held"] and placed.json()["reason"] == "訴訟 2026-17"
    assert client.get(path, headers=own).json()["since"] == placed.json()["since"]
    released = client.delete(path, headers=own, params={"reason": "closed"})
    assert released.status_code == 200 and released.json()["held"] is False
    assert client.delete(path, headers=own, params={"reason": "again"}).status_code == 409
    assert client.delete(path, headers=own).status_code == 400  # a reason is required
    assert client.post(path, headers=own, json={"reason": ""}).status_code == 422
    query = Query(
        tenant=tenant_id,
        filters=Filters(actions=("legal_hold.set", "legal_hold.release")),
        descending=False,
    )
    events = list(store.stream(query))
    assert [(e["action"], e["params"]["reason"]) for e in events] == [
        ("legal_hold.set", "訴訟 2026-17"),
        ("legal_hold.release", "closed"),
    ]
    assert actor_of(events[0])["type"] == "api_key"


def test_who_may_not_touch_a_legal_hold(
    client: TestClient, store: Store, runtime: Runtime, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare([pca_event(tenant_id), pca_event(tenant_id + "-x")], catalog))
    path = f"/api/v1/tenants/{tenant_id}/legal-hold"
    elsewhere = bearer(new_key(store, tenant=tenant_id + "-x", scopes=frozenset({"hold"})))
    publisher = bearer(new_key(store, scopes=frozenset({"publish"})))
    reader = bearer(new_key(store, tenant=tenant_id, scopes=frozenset({"read"})))
    person = viewer(runtime, tenant_id, ICHIRO, "admin")
    refusals: tuple[tuple[dict[str, str], int], ...] = (
        (elsewhere, 403),
        (publisher, 403),
        (reader, 403),
        (person, 401),
        ({}, 401),
    )
    for who, status in refusals:
        assert client.post(path, headers=who, json={"reason": "x"}).status_code == status
    tenant = store.get_tenant(tenant_id)
    assert tenant is not None and tenant.legal_hold is None
    missing = client.get(
        "/api/v1/tenants/ghost/legal-hold",
        headers=bearer(new_key(store, scopes=frozenset({"read"}))),
    )
    assert missing.status_code == 404


def test_a_publisher_may_not_send_kansas_own_events(
    client: TestClient, auth: dict[str, str], tenant_id: str
) -> None:
    forged = pca_event(
        tenant_id,
        app="kansa",
        action="retention.purge",
        params={
            "count": 1,
            "first_seq": 1,
            "last_seq": 1,
            "chain_start_seq": 2,
            "chain_start_prev_hash": "0" * 64,
        },
    )
    reply = client.post("/api/v1/events", json=forged, headers=auth)
    assert reply.status_code == 403 and "recorded by kansa itself" in reply.json()["detail"]
