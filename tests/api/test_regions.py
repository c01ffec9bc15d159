"""Regions: an event type its catalog logs in some regions only is refused, 422 naming the
regions, for a tenant of another region; a tenant's region is set at the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kansa.records import TenantChanges
from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from kansa.store import Store
from tests.helpers import new_key

CATALOG = """
[product]
id = "acme-cert"
name = "Acme certificates"
apps = ["Acme Cert"]
regions = ["JP", "US", "CN"]

[categories.certificate]
ja = "証明書"
en = "Certificate"

[results.success]
ja = "SUCCESS"
en = "SUCCESS"

[[events]]
action = "create certificate"
category = "certificate"
history = "operation"
level = "important"
label = { ja = "証明書の発行", en = "Create certificate" }
results = ["success"]
regions = ["JP"]
message = { ja = "", en = "" }

[[events]]
action = "download certificate"
category = "certificate"
history = "operation"
level = "important"
label = { ja = "証明書のダウンロード", en = "Download certificate" }
results = ["success"]
message = { ja = "", en = "" }
"""


@pytest.fixture
def regional(store_url: str, tmp_path: Path, store: Store) -> Iterator[tuple[TestClient, str]]:
    path = tmp_path / "acme-cert.toml"
    path.write_text(CATALOG, encoding="utf-8")
    runtime = Runtime.from_settings(Settings(database_url=store_url, catalogs=[path]))
    runtime.start()
    key = new_key(store, app="Acme Cert")
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            yield client, key
    finally:
        runtime.close()


def event(tenant: str, action: str, number: int = 1) -> dict[str, Any]:
    return {
        "id": f"cert-{number}",
        "tenant": {"id": tenant},
        "action": action,
        "result": "success",
        "actor": {"id": "admin"},
    }


def publish(client: TestClient, key: str, body: Any) -> Any:
    return client.post("/api/v1/events", json=body, headers={"Authorization": f"Bearer {key}"})


def test_an_event_type_of_other_regions_is_refused_naming_them(
    regional: tuple[TestClient, str], store: Store, tenant_id: str
) -> None:
    client, key = regional
    store.create_tenant(tenant_id, name=None, layout=None, tz="Asia/Tokyo", lang="ja")
    store.update_tenant(tenant_id, TenantChanges(region="US"))
    refused = publish(client, key, event(tenant_id, "create certificate"))
    assert refused.status_code == 422
    (problem,) = refused.json()["problems"]
    assert problem["path"] == "action"
    assert "JP" in problem["message"] and "US" in problem["message"]
    batch = {
        "events": [
            event(tenant_id, "download certificate", 2),
            event(tenant_id, "create certificate", 3),
        ]
    }
    reply = publish(client, key, batch)
    assert reply.status_code == 422 and reply.json()["problems"][0]["path"] == "events[1].action"
    assert store.get_tenant(tenant_id).last_seq == 0  # type: ignore[union-attr]
    assert publish(client, key, event(tenant_id, "download certificate", 4)).status_code == 201


def test_tenants_of_the_region_or_of_none_may_log_it(
    regional: tuple[TestClient, str], store: Store, tenant_id: str
) -> None:
    client, key = regional
    assert publish(client, key, event(tenant_id, "create certificate")).status_code == 201
    store.update_tenant(tenant_id, TenantChanges(region="JP"))
    assert publish(client, key, event(tenant_id, "create certificate", 2)).status_code == 201
    tenant = store.get_tenant(tenant_id)
    assert tenant is not None and tenant.region == "JP" and tenant.last_seq == 2
    listed = client.get(
        "/api/v1/catalog",
        params={"product": "acme-cert"},
        headers={"Authorization": f"Bearer {key}"},
    ).json()["event_types"]
    assert {t["action"]: t["regions"] for t in listed} == {
        "create certificate": ["JP"],
        "download certificate": [],
    }
