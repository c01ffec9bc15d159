"""A pruned event inside a screen's window is shown as removed — 「保存期間を過ぎたため削除」 or
「本人の請求により削除」 — with its time and action, never with what it said, and with no
detail to open; in a real Chromium, on every engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kansa import erasure, retention
from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.records import TenantChanges
from kansa.store import Store
from tests.web.seed import _event
from tests.web.site import Site, open_tab, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

GONE = {"id": "u-gone", "name": "消去 花子 zq5", "login": "hanako-zq5"}
OLD = {"id": "u-old", "name": "古川 老人 zq6", "login": "rojin-zq6"}


def test_pruned_and_erased_logins_are_said_to_be_removed(
    page: Page, site: Site, store: Store, catalog: Catalog, kddi: str
) -> None:
    layout = "kddi-business-id"
    store.append(
        prepare(
            [
                _event(kddi, layout, 90, "login.password", OLD, 60),  # 2.5 days ago
                _event(kddi, layout, 91, "login.password", GONE, 5),
            ],
            catalog,
        )
    )
    store.update_tenant(kddi, TenantChanges(retention={"login": 2}))
    (done,) = retention.purge(store, catalog, tenant_id=kddi)
    assert done.purged is not None and done.purged.count >= 1
    operator = {"id": "operator:test", "name": "test", "type": "operator"}
    erased = erasure.erase(store, catalog, kddi, GONE["id"], "request 5", operator)
    assert erased.count == 1

    sign_in(page, site, "kddi-business-id", tenant=kddi)
    open_tab(page, "ログイン履歴")
    removed = page.locator("table.log tbody tr.removed")
    texts = removed.all_inner_texts()
    assert any("保存期間を過ぎたため削除" in t for t in texts), texts
    assert any("本人の請求により削除" in t for t in texts), texts
    assert removed.locator("a.icon-button").count() == 0
    assert all(t.count(":") >= 1 for t in texts)  # each keeps its time
    body = page.content()
    for marker in ("zq5", "zq6", "hanako", "rojin"):
        assert marker not in body
