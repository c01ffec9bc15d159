"""Params a catalog calls times (microCMS's 公開開始): an ISO 8601 time with its offset when
published, written in a message in the tenant's zone as the product writes times."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kansa.records import TenantChanges
from kansa.store import Store
from tests.helpers import new_key


def schedule(tenant: str, publish_at: Any) -> dict[str, Any]:
    return {
        "id": "schedule-1",
        "tenant": {"id": tenant},
        "action": "content.schedule.update",
        "result": "success",
        "actor": {"id": "u-ichiro", "name": "飯田橋 一郎"},
        "params": {"api_name": "blogs", "content_id": "c-9", "publish_at": publish_at},
    }


def test_a_time_param_must_be_a_time_with_its_offset(
    client: TestClient, store: Store, tenant_id: str
) -> None:
    auth = {"Authorization": f"Bearer {new_key(store, app='microCMS')}"}
    for wrong in ("2026/12/10 09:00", "2026-12-10T09:00:00", 20261210):
        reply = client.post("/api/v1/events", json=schedule(tenant_id, wrong), headers=auth)
        assert reply.status_code == 422, wrong
        assert reply.json()["problems"][0]["path"] == "params.publish_at"


def test_a_message_writes_times_in_the_tenants_zone(
    client: TestClient, store: Store, tenant_id: str
) -> None:
    auth = {"Authorization": f"Bearer {new_key(store, app='microCMS')}"}
    sent = client.post(
        "/api/v1/events", json=schedule(tenant_id, "2026-12-10T00:00:00Z"), headers=auth
    )
    assert sent.status_code == 201
    stored = store.get_event(tenant_id, sent.json()["events"][0]["id"])
    assert stored is not None  # the stored, hashed message keeps what was sent
    assert "2026-12-10T00:00:00Z" in stored["message"]["ja"]

    def message(lang: str) -> str:
        reply = client.get(
            "/api/v1/events",
            params={"tenant": tenant_id, "lang": lang, "from": "2000-01-01"},
            headers=auth,
        )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["events"][0]["message"])

    assert "公開開始：2026/12/10 09:00:00" in message("ja")
    assert "publish: 2026/12/10 09:00:00" in message("en")
    store.update_tenant(tenant_id, TenantChanges(tz="UTC"))
    assert "公開開始：2026/12/10 00:00:00" in message("ja")
