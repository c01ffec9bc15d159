"""Console fixtures: seeded tenants of every layout on each engine, a real server on them,
and one headless Chromium for the session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.settings import Settings
from kansa.store import Store, open_store
from tests.helpers import password_hash
from tests.web.seed import PASSWORD, events_of, seed
from tests.web.server import ARGS, CHROMIUM, require_chromium, serve
from tests.web.site import Site

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page


@pytest.fixture(scope="session")
def site(store_url: str, catalog: Catalog) -> Iterator[Site]:
    store = open_store(store_url)
    try:
        tenants = seed(store, catalog, uuid.uuid4().hex[:8])
    finally:
        store.close()
    with serve(Settings(database_url=store_url)) as base:
        yield Site(base, tenants, store_url)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Chromium for one module at a time: Playwright's sync API runs an event loop on the
    main thread while it is open, which other modules' ``asyncio.run`` must not meet."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at 1280 px, Japanese locale. Any JavaScript
    dialog (alert, confirm) fails the test: nothing the console shows may open one."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="ja-JP", accept_downloads=True
    )
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    fired: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        fired.append(dialog.message)
        dialog.dismiss()

    opened.on("dialog", on_dialog)
    yield opened
    context.close()
    assert fired == [], f"a JavaScript dialog fired: {fired}"


@pytest.fixture
def kddi(store: Store, catalog: Catalog, tenant_id: str) -> str:
    """A KDDI Business ID tenant with events, an administrator and a general user."""
    store.create_tenant(
        tenant_id, name="ひかり物流", layout="kddi-business-id", tz="Asia/Tokyo", lang="ja"
    )
    hashed = password_hash(PASSWORD)
    store.create_account(tenant_id, "admin", name="管理 太郎", role="admin", password_hash=hashed)
    store.create_account(tenant_id, "u-jiro", name="飯田橋 二郎", role="user", password_hash=hashed)
    store.append(prepare(events_of(tenant_id, "kddi-business-id"), catalog))
    return tenant_id
