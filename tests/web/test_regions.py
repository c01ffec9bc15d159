"""A tenant's region (Cybozu runs in JP, US and CN) in the console's header."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.web.site import Site, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


def test_the_header_shows_the_tenants_region(page: Page, site: Site) -> None:
    sign_in(page, site, "cybozu")
    region = page.locator("header .who .region")
    assert region.inner_text().split()[-1] == "JP"
    assert region.get_attribute("title") == "リージョン"
    page.click("a[lang=en]")
    assert page.locator("header .who .region").get_attribute("title") == "Region"
    sign_in(page, site, "pca-id")  # a tenant without a region shows none
    assert page.locator("header .who .region").count() == 0
