"""kansa's own events (sign-ins, detail views, downloads) in their own history, ログの利用履歴:
never in a product's tabs, files or filters, always in the log-access tab and its file."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.web.site import Site, open_tab, sign_in
from tests.web.test_console import column, search

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

KDDI_RESULTS = {"ログイン成功", "ログインNG", "アカウントロック"}
KANSA_CATEGORIES = {"監査ログ", "保存期間・リーガルホールド"}


def download(page: Page) -> str:
    with page.expect_download() as info:
        page.click("section.download button[type=submit]")
    return info.value.path().read_bytes().decode("utf-8-sig")


def test_kddi_login_history_holds_only_the_products_results(page: Page, site: Site) -> None:
    sign_in(page, site, "kddi-business-id")
    open_tab(page, "操作履歴")
    page.locator("table.log tbody tr a.icon-button").first.click()
    page.locator("dialog#dialog").wait_for(state="visible")
    page.keyboard.press("Escape")
    open_tab(page, "ログイン履歴")
    boxes = set(page.locator("input[name=result] + span").all_inner_texts())
    assert boxes == KDDI_RESULTS
    assert set(column(page, "result")) <= boxes
    access = download(page)
    results = {line.split('","')[3] for line in access.splitlines()[1:]}
    assert results <= KDDI_RESULTS and results
    open_tab(page, "操作履歴")
    assert "ログの詳細表示" not in column(page, "action")
    operation = download(page)
    assert "ログの詳細表示" not in operation and "ログのダウンロード" not in operation


def test_the_log_access_tab_lists_the_sign_in_and_the_download(page: Page, site: Site) -> None:
    sign_in(page, site, "kddi-business-id")
    download(page)
    open_tab(page, "ログの利用履歴")
    messages = " ".join(column(page, "message"))
    assert "ログ画面にログイン" in messages
    assert re.search(r"ログ\[access-log_\d{8}\.csv\]をダウンロード", messages)
    own = download(page)
    assert "ログ画面にログイン" in own


@pytest.mark.parametrize("layout", ["pca-id", "microcms"])
def test_product_filters_offer_no_kansa_category(page: Page, site: Site, layout: str) -> None:
    sign_in(page, site, layout)
    offered = set(page.locator("#f-category option").all_inner_texts())
    assert offered and not offered & KANSA_CATEGORIES
    assert not set(column(page, "category")) & KANSA_CATEGORIES
    search(page)
    assert "ログ画面にログイン" not in page.inner_text("table.log tbody")
