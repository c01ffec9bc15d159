"""The console in a real headless Chromium, on every engine: each layout's screen for an
administrator and a general user — searching with every form field, sorting, details,
columns, CSV downloads, the language switch — and untrusted event fields staying inert."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from kansa.catalog import Catalog
from tests.web.seed import IMG, JS_URL, LAYOUTS, SCRIPT
from tests.web.site import Site, follow, open_tab, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


def column(page: Page, key: str) -> list[str]:
    return [t.strip() for t in page.locator(f"table.log tbody td.col-{key}").all_inner_texts()]


def search(page: Page) -> None:
    page.click("form.search button[type=submit]")
    page.wait_for_load_state()


def test_kddi_administrator_searches_each_tab(page: Page, site: Site, catalog: Catalog) -> None:
    sign_in(page, site, "kddi-business-id")
    tabs = page.locator("nav.tabs a")
    assert tabs.all_inner_texts() == [
        "ログイン履歴",
        "操作履歴",
        "サービス連携履歴",
        "ログの利用履歴",
    ]
    assert page.locator("nav.tabs a[aria-current=page]").inner_text() == "ログイン履歴"
    # 対象期間 defaults to one week, and may start on the 1st of the same month last year
    assert re.fullmatch(r"\d{4}-\d{2}-01", page.get_attribute("#from", "min") or "")
    assert {"jiro", "ichiro", "saburo"} <= set(column(page, "actor-login"))

    page.fill("#f-actor", "jiro")
    search(page)
    assert set(column(page, "actor-login")) == {"jiro"}
    assert "飯田橋 二郎" in column(page, "actor-name")

    follow(page, "text=リセット")
    page.check("input[name=result][value=locked]")
    search(page)
    assert column(page, "result") == ["アカウントロック"]
    assert column(page, "actor-name") == ["神楽坂 三郎"]

    follow(page, "text=リセット")
    page.check("input[name=result][value=success]")
    page.check("input[name=result][value=failure]")
    search(page)
    assert set(column(page, "result")) == {"ログイン成功", "ログインNG"}

    # 種別 groups on the operation tab
    open_tab(page, "操作履歴")
    options = page.locator("#f-group option").all_inner_texts()
    assert options == [
        "指定なし",
        "ユーザ管理",
        "組織管理",
        "SSO 関連",
        "セキュリティ関連",
        "ユーザによる情報変更",
        "代表管理者変更",
        "Active Directory 関連設定",
    ]
    page.select_option("#f-group", label="SSO 関連")
    search(page)
    sso = catalog.get("kddi-business-id", "sso.setting.change")
    assert sso is not None and set(column(page, "action")) == {sso.label.ja}

    # サービス連携履歴: one row per job in its latest state, every field of its form
    open_tab(page, "サービス連携履歴")
    assert sorted(column(page, "result")) == ["NG", "OK"]
    page.select_option("#f-service", "Google Workspace")
    search(page)
    assert column(page, "result") == ["NG"]
    follow(page, "text=リセット")
    page.check("input[name=result][value=ok]")
    search(page)
    assert column(page, "service") == ["Microsoft 365"]
    # 日時: when the job began (its 処理中 state, 6 minutes before OK); 連携対象: the user ID
    assert column(page, "target-id") == ["jiro@hikari.example.jp"]
    started = column(page, "started-at")
    page.click("table.log tbody tr >> nth=0 >> a.icon-button")
    page.locator("dialog#dialog ol.states").wait_for(state="visible")
    states = page.locator("dialog#dialog ol.states li time").all_inner_texts()
    assert len(states) == 2 and started == states[:1] and states[0] != states[1]
    page.keyboard.press("Escape")
    follow(page, "text=リセット")
    page.fill("#f-target", "saburo@")
    search(page)
    assert column(page, "result") == ["NG"]
    follow(page, "text=リセット")
    page.select_option("#f-action", label="ユーザ登録")
    search(page)
    assert column(page, "result") == ["OK"]

    # the job's detail shows every state
    page.click("table.log tbody tr >> nth=0 >> a.icon-button")
    dialog = page.locator("dialog#dialog")
    dialog.wait_for(state="visible")
    assert dialog.locator("ol.states li").count() == 2
    assert "処理中" in dialog.locator("ol.states").inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


def test_sorting_by_a_column_header(page: Page, site: Site) -> None:
    sign_in(page, site, "kddi-business-id")
    page.click("th.col-actor-name a.sort")
    page.wait_for_url(re.compile(r"sort=actor_name&order=asc"))
    assert page.get_attribute("th.col-actor-name", "aria-sort") == "ascending"
    ascending = column(page, "actor-name")
    page.click("th.col-actor-name a.sort")
    page.wait_for_url(re.compile(r"sort=actor_name&order=desc"))
    assert page.get_attribute("th.col-actor-name", "aria-sort") == "descending"
    assert column(page, "actor-name") == list(reversed(ascending))
    page.click("th.col-occurred-at a.sort")
    page.wait_for_url(re.compile(r"sort=occurred_at"))
    times = column(page, "occurred-at")
    assert times == sorted(times, reverse=True)
    assert all(re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", t) for t in times)


def test_a_detail_opens_in_a_dialog_and_is_recorded(page: Page, site: Site) -> None:
    sign_in(page, site, "kddi-business-id")
    open_tab(page, "操作履歴")
    page.select_option("#f-group", label="SSO 関連")
    search(page)
    row = page.locator("table.log tbody tr", has_text="Microsoft 365")
    row.locator("a.icon-button").click()
    dialog = page.locator("dialog#dialog")
    dialog.wait_for(state="visible")
    assert '"note": "SAML 証明書を更新"' in dialog.locator("pre.json").first.inner_text()
    assert "203.0.113.6" in dialog.inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    # long cells are cut with an ellipsis and carry the whole text on hover
    open_tab(page, "ログイン履歴")
    long_cell = page.locator("td.col-message[title*='とても長い説明文です。とても長い']").first
    cut = long_cell.locator(".cut")
    assert cut.evaluate("e => e.scrollWidth > e.clientWidth")
    assert cut.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    # the view was recorded in the tenant's log, in kansa's own history
    open_tab(page, "操作履歴")
    assert "ログの詳細を表示" not in " ".join(column(page, "message"))
    open_tab(page, "ログの利用履歴")
    assert "ログの詳細を表示" in " ".join(column(page, "message"))


# microCMS's audit log is for administrators only: its members are refused at sign-in
# (test_microcms.py)
@pytest.mark.parametrize("layout", [name for name in LAYOUTS if name != "microcms"])
def test_a_general_user_sees_their_own_history(page: Page, site: Site, layout: str) -> None:
    sign_in(page, site, layout, login="u-jiro")
    assert "あなた自身のログのみ表示しています" in page.inner_text("main")
    body = page.inner_text("table.log tbody")
    assert "飯田橋 一郎" not in body and "神楽坂 三郎" not in body and "管理 太郎" not in body
    assert page.locator("table.log tbody tr").count() >= 2
    assert page.locator("section.download").count() == 0  # no CSV for general users
    if layout == "kddi-business-id":  # the login history only, one ID per person
        assert page.locator("nav.tabs").count() == 0
        assert set(column(page, "actor-login")) == {"jiro"}


def test_pca_level_icons_data_type_and_window(page: Page, site: Site) -> None:
    sign_in(page, site, "pca-id")
    # one list, and kansa's own history beside it
    assert page.locator("nav.tabs a").all_inner_texts() == ["操作ログ", "ログの利用履歴"]
    for level in ("info", "warning", "error"):
        assert page.locator(f"table.log svg.lv-{level}").count() >= 1
    assert page.locator("table.log svg.lv-important").count() >= 1  # own password change
    body = page.inner_text("table.log tbody")
    assert "ユーザー[saburo]を作成" not in body  # CSV only, never on screen
    hint = page.inner_text("form.search .hint")
    assert "から今日まで指定できます" in hint
    page.select_option("#f-category", label="ユーザー")
    search(page)
    assert set(column(page, "category")) == {"ユーザー"}
    follow(page, "text=リセット")
    page.check("input[name=level][value=warning]")
    search(page)
    assert set(column(page, "level")) == {"警告"}
    follow(page, "text=リセット")
    page.fill("#f-actor", "ichiro")
    search(page)
    assert set(column(page, "actor-login")) == {"ichiro"}


def test_microcms_columns_are_chosen_and_remembered(page: Page, site: Site) -> None:
    sign_in(page, site, "microcms")
    page.click("text=表示項目の編集")
    dialog = page.locator("dialog#dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_label("対象API名").check()
    dialog.get_by_label("IPアドレス").uncheck()
    dialog.locator("button[type=submit]", has_text="保存").click()
    page.wait_for_url("**/console/log**")
    headers = page.locator("table.log thead th").all_inner_texts()
    assert "対象API名" in headers and "IPアドレス" not in headers
    assert "blogs" in column(page, "param-api-name")
    page.goto(f"{site.base}/console/log")  # remembered for this account
    assert "対象API名" in page.locator("table.log thead th").all_inner_texts()
    page.click("text=表示項目の編集")
    dialog.wait_for(state="visible")
    dialog.locator("button[name=reset]").click()
    page.wait_for_url("**/console/log**")
    assert "IPアドレス" in page.locator("table.log thead th").all_inner_texts()


def test_garoon_in_english_and_by_module(page: Page, site: Site) -> None:
    sign_in(page, site, "cybozu")
    page.click("a[lang=en]")
    page.wait_for_url(re.compile("lang=en"))
    assert page.get_attribute("html", "lang") == "en"
    headers = page.locator("table.log thead th").all_inner_texts()
    assert headers[:7] == [
        "Date and time",
        "Level",
        "User",
        "Module",
        "Action",
        "Result",
        "Complement",
    ]
    assert "download certificate" in column(page, "action-code")
    assert "login API(REST)" in column(page, "action-code")  # Garoon's login API(%s)
    assert "%s" not in page.inner_text("body")
    assert "FAILED" in column(page, "result")
    assert {"Notice", "Information"} == set(column(page, "level"))  # Garoon's words
    levels = page.locator("#f-level option, input[name=level]").evaluate_all(
        "els => els.map(e => e.value).filter(v => v)"
    )
    assert levels == ["important", "info"]  # only the levels Garoon's catalog uses
    assert "Notice" not in headers and page.inner_text("button.primary") == "Search"
    assert "3 failed" in page.inner_text(".chart")  # FAILED results, at level Information
    page.goto(f"{site.base}/console/log")  # the choice is remembered
    assert page.get_attribute("html", "lang") == "en"
    modules = page.locator("#f-module option").all_inner_texts()
    assert [m for m in modules if m.strip()][-2:] == ["System Administration", "User Profile"]
    page.select_option("#f-module", "System Administration")
    search(page)
    assert set(column(page, "module")) == {"System Administration"}
    assert column(page, "action-code").count("download certificate") == 1  # not User Profile's
    page.select_option("#f-module", "User Profile")
    search(page)
    assert column(page, "action-code") == ["download certificate"]
    page.click("a[lang=ja]")
    assert page.locator("table.log thead th").first.inner_text() == "日時"


@pytest.mark.parametrize(
    ("layout", "pattern", "header"),
    [
        ("kddi-business-id", r"access-log_\d{8}\.csv", '"日時","ユーザID","姓名","結果","詳細"'),
    ],
)
def test_csv_download_for_a_period(
    page: Page, site: Site, layout: str, pattern: str, header: str
) -> None:
    sign_in(page, site, layout)
    with page.expect_download() as info:
        page.click("section.download button[type=submit]")
    download = info.value
    assert re.fullmatch(pattern, download.suggested_filename)
    path = download.path()
    content = path.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.decode("utf-8-sig").startswith(header)
    assert b"\r\n" in content


@pytest.mark.parametrize("layout", LAYOUTS)
def test_xss_payloads_render_as_inert_text(page: Page, site: Site, layout: str) -> None:
    sign_in(page, site, layout)
    text = page.inner_text("table.log tbody")
    assert SCRIPT in text or IMG in text
    counts = page.evaluate(
        """() => ({
            img: document.querySelectorAll("img").length,
            handlers: document.querySelectorAll("[onerror],[onload],[onclick]").length,
            js: document.querySelectorAll("a[href^='javascript:'],[src^='javascript:']").length,
            scripts: [...document.scripts].filter(s => !s.src.endsWith("/console.js")).length,
        })"""
    )
    assert counts == {"img": 0, "handlers": 0, "js": 0, "scripts": 0}
    row = page.locator("table.log tbody tr", has_text=SCRIPT if SCRIPT in text else IMG).first
    row.locator("a.icon-button").click()
    dialog = page.locator("dialog#dialog")
    dialog.wait_for(state="visible")
    shown = dialog.inner_text()
    assert JS_URL in shown and IMG in shown
    assert dialog.locator("img, script, a[href^='javascript:']").count() == 0
    page.keyboard.press("Escape")
