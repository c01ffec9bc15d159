"""Windows the console can use: the first day a date picker offers, on screen and in the
download form, is accepted for PCA ID (7 days on screen, 2 years in CSV) and KDDI (from the
1st of the same month last year)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.web.site import Site, sign_in
from tests.web.test_console import search

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("layout", ["pca-id", "kddi-business-id"])
def test_the_first_day_the_pickers_offer_works(page: Page, site: Site, layout: str) -> None:
    sign_in(page, site, layout)
    first = page.get_attribute("#from", "min")
    assert first
    page.fill("#from", first)
    search(page)
    assert page.input_value("#from") == first
    assert page.locator(".error, .alert").count() == 0
    assert page.locator("table.log").count() == 1
    earliest = page.get_attribute("section.download input[name=from]", "min")
    assert earliest
    page.fill("section.download input[name=from]", earliest)
    with page.expect_download() as info:
        page.click("section.download button[type=submit]")
    assert re.fullmatch(r"[a-z-]+_\d{8}\.csv", info.value.suggested_filename)
    assert info.value.failure() is None


def test_pca_download_defaults_to_its_two_years(page: Page, site: Site) -> None:
    sign_in(page, site, "pca-id")
    form = page.locator("section.download")
    earliest = form.locator("input[name=from]").get_attribute("min")
    assert form.locator("input[name=from]").input_value() == earliest
    assert page.get_attribute("#from", "min") != earliest  # the screen's 7 days
    assert "画面に表示される期間より長い" in form.inner_text()


def test_kddi_searches_one_week_by_default(page: Page, site: Site) -> None:
    sign_in(page, site, "kddi-business-id")
    since = page.input_value("#from")
    until = page.input_value("#to")
    from datetime import date

    assert (date.fromisoformat(until) - date.fromisoformat(since)).days == 7
