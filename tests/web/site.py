"""The console as the browser tests meet it: the served site and signing in to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.web.seed import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page


@dataclass(frozen=True)
class Site:
    base: str
    tenants: dict[str, str]
    store_url: str


def sign_in(
    page: Page, site: Site, layout: str, login: str = "admin", tenant: str | None = None
) -> None:
    """Sign in as ``login`` to the seeded tenant of ``layout`` (or to ``tenant``)."""
    page.goto(f"{site.base}/console/signin")
    page.fill("#tenant", tenant or site.tenants[layout])
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/console/log**")


def follow(page: Page, selector: str) -> None:
    """Click the link ``selector`` and wait until the page it opens has loaded: reading or
    filling straight after the click could meet the old page."""
    with page.expect_navigation():
        page.click(selector)


def open_tab(page: Page, label: str) -> None:
    """Open the log's tab named ``label`` (a link) and wait until its page has loaded."""
    from playwright.sync_api import expect

    follow(page, f"nav.tabs >> text={label}")
    expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text(label)
