"""``/docs`` in a real headless Chromium: Swagger UI renders the API from kansa's own files,
with nothing fetched from another origin and nothing the page's CSP refuses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from tests.web.site import Site

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


def test_the_api_reference_renders_from_kansas_own_files(page: Page, site: Site) -> None:
    requested: list[str] = []
    refused: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{site.base}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    assert page.locator(".opblock-summary-path").count() >= 10
    assert "/api/v1/events" in page.locator(".opblock-summary-path").all_inner_texts()
    outside = [u for u in requested if not u.startswith(site.base) and not u.startswith("data:")]
    assert outside == [] and refused == []


def test_every_reply_carries_a_content_security_policy(site: Site) -> None:
    with httpx.Client(base_url=site.base) as http:
        paths = ("/docs", "/docs/assets/swagger-ui-bundle.js", "/docs/start.js", "/openapi.json")
        for path in (*paths, "/healthz"):
            reply = http.get(path)
            assert reply.status_code == 200, path
            assert "default-src 'none'" in reply.headers["content-security-policy"], path
            assert reply.headers["x-content-type-options"] == "nosniff"
        assert http.get("/docs/assets/../../../etc/passwd").status_code == 404
        assert http.get("/docs/assets/index.j2").status_code == 404
