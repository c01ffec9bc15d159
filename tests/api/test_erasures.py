"""``POST /api/v1/erasures`` on every engine: an admin key erases one person; a read key may
not; a legal hold is a 409 naming it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Query
from kansa.store import Store
from tests.helpers import pca_event


def test_an_admin_key_erases_one_person_and_a_hold_refuses(
    client: TestClient, store: Store, catalog: Catalog, tenant_id: str, auth: dict[str, str]
) -> None:
    from tests.helpers import new_key

    store.append(prepare([pca_event(tenant_id, n) for n in (1, 2)], catalog))
    admin = {"Authorization": f"Bearer {new_key(store, scopes=frozenset({'admin'}))}"}
    asked = {"tenant": tenant_id, "actor": "acc-1002", "reason": "request 3"}
    reply = client.post("/api/v1/erasures", json=asked, headers=auth)
    assert reply.status_code == 403 and "admin" in reply.json()["detail"]
    reply = client.post("/api/v1/erasures", json={**asked, "actor": ""}, headers=admin)
    assert reply.status_code == 422
    holder = {"Authorization": f"Bearer {new_key(store, scopes=frozenset({'hold'}))}"}
    hold = {"reason": "case 4"}
    assert client.post(
        f"/api/v1/tenants/{tenant_id}/legal-hold", json=hold, headers=holder
    ).is_success
    reply = client.post("/api/v1/erasures", json=asked, headers=admin)
    assert reply.status_code == 409 and "case 4" in reply.json()["detail"]
    client.delete(f"/api/v1/tenants/{tenant_id}/legal-hold?reason=done", headers=holder)
    reply = client.post("/api/v1/erasures", json=asked, headers=admin)
    assert reply.status_code == 201, reply.text
    assert reply.json() == {"tenant": tenant_id, "count": 2, "first_seq": 1, "last_seq": 2}
    left = list(store.stream(Query(tenant=tenant_id, descending=False)))
    assert [e["action"] for e in left] == [
        "legal_hold.set",
        "legal_hold.release",
        "privacy.erasure",
    ]
    assert left[-1]["actor"] is not None and left[-1]["actor"]["type"] == "api_key"
    reply = client.post("/api/v1/erasures", json={**asked, "tenant": "no-such"}, headers=admin)
    assert reply.status_code == 404
