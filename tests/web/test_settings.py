"""``/console/settings`` on every engine: a tenant administrator sees the days each history is
kept (the product's default or the tenant's own), the legal hold, and the erasures and holds
recorded — never an erased person's id; a general user is refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kansa import erasure, retention
from kansa.catalog import Catalog
from kansa.records import TenantChanges
from kansa.store import Store
from tests.web.test_auth import sign_in

OPERATOR = {"id": "operator:test", "name": "運用 担当", "type": "operator"}


def test_the_settings_page_shows_retention_holds_and_erasures(
    client: TestClient, store: Store, catalog: Catalog, kddi: str
) -> None:
    store.update_tenant(kddi, TenantChanges(retention={"login": 90}))
    retention.set_legal_hold(store, catalog, kddi, "訴訟 2026-17", OPERATOR)
    retention.set_legal_hold(store, catalog, kddi, None, OPERATOR, release_reason="終結")
    erasure.erase(store, catalog, kddi, "u-jiro", "本人請求 12", OPERATOR)
    retention.set_legal_hold(store, catalog, kddi, "監査 5", OPERATOR)

    assert sign_in(client, kddi, "u-jiro").status_code == 303
    assert client.get("/console/settings").status_code == 403
    client.cookies.clear()
    assert sign_in(client, kddi, "admin").status_code == 303
    assert 'href="/console/settings"' in client.get("/console/log").text
    page = client.get("/console/settings")
    assert page.status_code == 200
    text = page.text
    assert "90日" in text and "この組織の設定" in text and "365日" in text
    assert "製品の既定値" in text
    assert "リーガルホールド中（監査 5" in text
    assert "本人の請求による削除" in text and "本人請求 12" in text and "運用 担当" in text
    assert "u-jiro" not in text  # the erased person is not named
