"""KDDI Business ID as its manual has it: sorting by what each column shows, over the whole
result; a general user's own login history only, and everyone's own history from the user
menu."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.web.seed import ICHIRO
from tests.web.site import Site, open_tab, sign_in
from tests.web.test_console import column

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

FIRST = {"id": "u-aaa", "login": "aaa", "name": "龍 太郎"}
"""First by login, last by name: a sort by name would not put them first."""


def _operation(
    tenant: str, n: int, action: str, actor: dict[str, str], hours: float
) -> dict[str, Any]:
    params = {"org": "営業部", "sso_service": "Microsoft 365", "target_id": f"user-{n}"}
    return {
        "id": f"op-{n}",
        "tenant": {"id": tenant},
        "app": "KDDI Business ID",
        "action": action,
        "result": "done",
        "actor": actor,
        "occurred_at": (utcnow() - timedelta(hours=hours)).isoformat(),
        "params": params,
    }


@pytest.fixture
def busy(kddi: str, store: Store, catalog: Catalog) -> str:
    """The KDDI tenant with more operations than one page: 55 recent ``ユーザ追加`` by
    ichiro, and older, one each, ``SSO 設定``, ``組織管理`` and ``ユーザ削除`` by 龍 太郎."""
    events = [_operation(kddi, n, "user.add", ICHIRO, 1 + n / 100) for n in range(55)]
    for n, action in enumerate(("sso.setting.change", "org.create", "user.delete"), 100):
        events.append(_operation(kddi, n, action, FIRST, 60 + n))
    store.append(prepare(events, catalog))
    return kddi


def _sort(page: Page, key: str, sort: str, order: str) -> None:
    page.click(f"th.col-{key} a.sort")
    page.wait_for_url(re.compile(f"sort={sort}&order={order}"))


def test_types_sort_by_their_label_over_the_whole_result(page: Page, site: Site, busy: str) -> None:
    sign_in(page, site, "kddi-business-id", tenant=busy)
    open_tab(page, "操作履歴")
    _sort(page, "action", "label", "asc")
    kinds = column(page, "action")  # the oldest first, when their label is
    assert len(kinds) == 50 and kinds == sorted(kinds) and kinds[0] == "SSO 設定"
    assert "ユーザ削除" in kinds and "組織管理" not in kinds
    _sort(page, "action", "label", "desc")
    assert column(page, "action")[0] == "組織管理"
    page.click("a[lang=en]")  # the reader's language orders the labels
    page.wait_for_url(re.compile("lang=en"))
    _sort(page, "action", "label", "asc")
    kinds = column(page, "action")
    assert kinds == sorted(kinds) and kinds[0] == "Add user"
    _sort(page, "action", "label", "desc")
    kinds = column(page, "action")
    assert kinds == sorted(kinds, reverse=True) and kinds[0] == "SSO settings"


def test_user_ids_sort_by_the_login_shown(page: Page, site: Site, busy: str) -> None:
    sign_in(page, site, "kddi-business-id", tenant=busy)
    open_tab(page, "操作履歴")
    _sort(page, "actor-login", "actor_login", "asc")
    logins = column(page, "actor-login")
    assert logins == sorted(logins) and logins[1:4] == ["aaa"] * 3  # after '"><img…'
    assert "ichiro" in logins  # 龍 太郎's three before ichiro's 55, though 龍 > 飯田橋
    _sort(page, "actor-name", "actor_name", "asc")
    _sort(page, "actor-name", "actor_name", "desc")
    names = column(page, "actor-name")
    assert names[0] == "龍 太郎" and names == sorted(names, reverse=True)


def test_provisioning_sorts_by_service(page: Page, site: Site) -> None:
    sign_in(page, site, "kddi-business-id")
    open_tab(page, "サービス連携履歴")
    _sort(page, "service", "service", "asc")
    assert column(page, "service") == ["Google Workspace", "Microsoft 365"]
    _sort(page, "service", "service", "desc")
    assert column(page, "service") == ["Microsoft 365", "Google Workspace"]


def test_a_general_user_sees_their_own_login_history_only(page: Page, site: Site) -> None:
    sign_in(page, site, "kddi-business-id", login="u-jiro")
    assert page.locator("nav.tabs").count() == 0  # no 操作履歴 (manual: users see logins)
    assert page.locator("h2#search-title").inner_text() == "ログイン履歴"
    assert set(column(page, "actor-login")) == {"jiro"}  # the product login, once
    assert "u-jiro" not in page.inner_text("table.log")
    page.goto(f"{site.base}/console/log?tab=operation")
    assert page.locator("h2#search-title").inner_text() == "ログイン履歴"
    page.click("header .usermenu summary")
    page.click("header .usermenu >> text=自身のログイン履歴")
    page.wait_for_url("**/console/own")
    assert page.locator("h1").inner_text() == "自身のログイン履歴"
    assert set(column(page, "actor-login")) == {"jiro"}


def test_administrators_open_their_own_login_history_from_the_menu(
    page: Page, site: Site, kddi: str, store: Store, catalog: Catalog
) -> None:
    own = {"id": "admin", "login": "kanri", "name": "管理 太郎"}
    event = _operation(kddi, 1, "login.password", own, 2)
    event.update(result="success", params={"os": "Windows"}, ip="203.0.113.99")
    store.append(prepare([event], catalog))
    sign_in(page, site, "kddi-business-id", tenant=kddi)
    assert {"jiro", "kanri"} <= set(column(page, "actor-login"))  # everyone's, on the log
    assert page.locator("h1").inner_text() == "ログ"  # the log's title, not the own history's
    page.click("header .usermenu summary")
    for link in ("保存設定", "ログの転送先"):  # an administrator's pages, in the same menu
        assert page.locator(f"header .usermenu >> text={link}").is_visible()
    page.click("header .usermenu >> text=自身のログイン履歴")
    page.wait_for_url("**/console/own")
    assert column(page, "actor-login") == ["kanri"]
    assert page.locator("section.download").count() == 0
    assert page.locator("nav.tabs").count() == 0
    page.check("input[name=result][value=failure]")  # the search stays on the own history
    page.click("form.search button[type=submit]")
    page.wait_for_url("**/console/own?**")
    assert page.locator("table.log tbody tr").count() == 0
    page.click("a[lang=en]")
    assert page.locator("h1").inner_text() == "Your login history"


def _state(tenant: str, job: str, n: int, result: str, hours: float) -> dict[str, Any]:
    event = _operation(tenant, n, "provision.user.create", ICHIRO, hours)
    event.update(
        result=result,
        params={"service": "Microsoft 365"},
        correlation_id=job,
        targets=[{"id": f"{job}@hikari.example.jp", "name": "飯田橋 二郎"}],
    )
    return event


def test_provisioning_sorts_by_when_each_job_began(
    page: Page, site: Site, kddi: str, store: Store, catalog: Catalog
) -> None:
    """Job x began first and ended last: by its latest state it would come first."""
    states = [
        _state(kddi, "job-x", 201, "processing", 10),
        _state(kddi, "job-y", 202, "processing", 5),
        _state(kddi, "job-y", 203, "ok", 4),
        _state(kddi, "job-x", 204, "ok", 0.5),
    ]
    store.append(prepare(states, catalog))
    sign_in(page, site, "kddi-business-id", tenant=kddi)
    open_tab(page, "サービス連携履歴")
    assert page.get_attribute("th.col-started-at", "aria-sort") == "descending"
    began = column(page, "started-at")
    assert len(began) == 4 and began == sorted(began, reverse=True)
    assert column(page, "target-id")[-1] == "job-x@hikari.example.jp"
    _sort(page, "started-at", "started_at", "asc")
    began = column(page, "started-at")
    assert began == sorted(began) and column(page, "target-id")[0] == "job-x@hikari.example.jp"


def test_a_log_without_a_login_history_offers_no_own_one(page: Page, site: Site) -> None:
    sign_in(page, site, "pca-id")
    assert page.locator("header .usermenu a[href='/console/own']").count() == 0
    assert page.locator("header .who .person").inner_text() == "管理 太郎"
    reply = page.goto(f"{site.base}/console/own")
    assert reply is not None and reply.status == 404
    assert page.locator("header .signout").count() == 1  # the error page keeps the header
