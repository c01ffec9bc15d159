"""microCMS as its manual has it: times in messages in the tenant's zone and the product's
format, administrators only (a member is refused at sign-in, recorded in kansa's own
history), the CSV download as a dialog with the period, every header cut alike."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import password_hash
from tests.web.seed import ICHIRO, PASSWORD, events_of
from tests.web.site import Site, open_tab, sign_in
from tests.web.test_console import column

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

SCHEDULED_JA = "公開開始：2026/12/10 09:00:00 公開終了：2027/01/01 00:00:00"
SCHEDULED_EN = "publish: 2026/12/10 09:00:00, unpublish: 2027/01/01 00:00:00"


@pytest.fixture
def microcms(store: Store, catalog: Catalog, tenant_id: str) -> str:
    """A microCMS tenant (Asia/Tokyo) with an administrator, a member who is not one, and a
    schedule published in UTC."""
    store.create_tenant(tenant_id, name="つばめ", layout="microcms", tz="Asia/Tokyo", lang="ja")
    hashed = password_hash(PASSWORD)
    store.create_account(tenant_id, "admin", name="管理 太郎", role="admin", password_hash=hashed)
    store.create_account(tenant_id, "u-jiro", name="飯田橋 二郎", role="user", password_hash=hashed)
    schedule = {
        "id": "schedule-1",
        "tenant": {"id": tenant_id},
        "app": "microCMS",
        "action": "content.schedule.update",
        "result": "success",
        "actor": ICHIRO,
        "occurred_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "params": {
            "api_name": "blogs",
            "content_id": "c-9",
            "publish_at": "2026-12-10T00:00:00Z",
            "unpublish_at": "2026-12-31T15:00:00+00:00",
        },
    }
    store.append(prepare([*events_of(tenant_id, "microcms"), schedule], catalog))
    return tenant_id


def _csv(page: Page) -> str:
    page.click(".page-actions a:has-text('CSVダウンロード')")
    dialog = page.locator("dialog#dialog")
    dialog.wait_for(state="visible")
    with page.expect_download() as info:
        dialog.locator("button[type=submit]").click()
    assert re.fullmatch(r"audit-log_\d{8}\.csv", info.value.suggested_filename)
    return info.value.path().read_bytes().decode("utf-8-sig")


def test_times_in_messages_are_the_products_in_the_tenants_zone(
    page: Page, site: Site, microcms: str
) -> None:
    sign_in(page, site, "microcms", tenant=microcms)
    messages = " ".join(column(page, "message"))
    assert SCHEDULED_JA in messages and "2026-12-10T" not in messages
    assert SCHEDULED_JA in _csv(page)
    page.keyboard.press("Escape")
    page.click("a[lang=en]")
    page.wait_for_url(re.compile("lang=en"))
    assert SCHEDULED_EN in " ".join(column(page, "message"))
    row = page.locator("table.log tbody tr", has_text="c-9")
    row.locator("a.icon-button").click()
    dialog = page.locator("dialog#dialog")
    dialog.wait_for(state="visible")
    assert SCHEDULED_EN in dialog.inner_text()


def test_the_download_is_a_dialog_with_the_period(page: Page, site: Site, microcms: str) -> None:
    sign_in(page, site, "microcms", tenant=microcms)
    assert page.locator("section.download").count() == 0  # no panel: a button, as microCMS
    page.click(".page-actions a:has-text('CSVダウンロード')")
    dialog = page.locator("dialog#dialog")
    dialog.wait_for(state="visible")
    assert dialog.locator("#dialog-title").inner_text() == "ファイル(CSV)をダウンロード"
    start = dialog.locator("input[name=from]")
    assert start.input_value() == page.locator("form.search input[name=from]").input_value()
    assert dialog.locator("input[name=to]").input_value()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    content = _csv(page)
    assert content.startswith('"日時","IPアドレス","ユーザー","操作内容"')
    assert "\r\n" in content


def test_a_member_who_is_not_an_administrator_is_refused_at_sign_in(
    page: Page, site: Site, microcms: str
) -> None:
    for lang, words in (
        ("ja", "監査ログを閲覧できるのは組織の管理者のみです"),
        ("en", "only the organisation's administrators can view it"),
    ):
        page.goto(f"{site.base}/console/signin?lang={lang}")
        page.fill("#tenant", microcms)
        page.fill("#login", "u-jiro")
        page.fill("#password", PASSWORD)
        with page.expect_response(re.compile("/console/signin$")) as reply:
            page.click("form.stack button[type=submit]")
        assert reply.value.status == 403
        assert words in page.inner_text("main")
        assert "/console/log" not in page.url
    sign_in(page, site, "microcms", tenant=microcms)
    page.goto(f"{site.base}/console/log?lang=ja")
    assert "ログ画面へのログインに失敗" not in page.inner_text("table.log tbody")
    assert "ログ画面へのログインに失敗" not in _csv(page)
    page.keyboard.press("Escape")
    open_tab(page, "ログの利用履歴")
    refused = [m for m in column(page, "message") if "ログ画面へのログインに失敗" in m]
    assert len(refused) == 2 and all("u-jiro" in m for m in refused)


def test_the_last_chosen_header_is_cut_with_an_ellipsis(
    page: Page, site: Site, microcms: str
) -> None:
    sign_in(page, site, "microcms", tenant=microcms)
    page.click("text=表示項目の編集")
    dialog = page.locator("dialog#dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_label("対象コンテンツID（ユーザー定義）").check()
    dialog.get_by_label("CSVインポートデータ保存日時").check()
    dialog.locator("button[type=submit]", has_text="保存").click()
    page.wait_for_url("**/console/log**")
    labels = page.locator("table.log thead th:not(.col-detail) .th-label")
    last = labels.last
    assert last.inner_text() == "CSVインポートデータ保存日時"
    for label in (last, labels.nth(labels.count() - 2)):
        assert label.evaluate("e => e.scrollWidth > e.clientWidth")
        assert label.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    assert last.get_attribute("title") == "CSVインポートデータ保存日時"
    cut = labels.evaluate_all(
        "els => els.map(e => getComputedStyle(e).textOverflow === 'ellipsis')"
    )
    assert all(cut)
