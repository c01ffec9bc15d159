"""The console's error pages (kansa/web/routing.py) through the real app on every engine:
wholly in the reader's language — the problem's English detail goes to the log, not the
page — and with the header of a signed-in reader (tenant, name, language switch, sign-out)."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from kansa.server.app import create_app
from kansa.settings import Settings
from kansa.store import Store
from tests.helpers import password_hash
from tests.web.seed import PASSWORD
from tests.web.test_auth import sign_in

ASCII_WORDS = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture
def pca(store: Store, tenant_id: str) -> str:
    store.create_tenant(tenant_id, name="ひかり商事", layout="pca-id", tz="Asia/Tokyo", lang="ja")
    hashed = password_hash(PASSWORD)
    store.create_account(tenant_id, "admin", name="管理 太郎", role="admin", password_hash=hashed)
    store.create_account(tenant_id, "u-jiro", name="飯田橋 二郎", role="user", password_hash=hashed)
    return tenant_id


def _main(html: str) -> str:
    found = re.search(r"<main[^>]*>(.*)</main>", html, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", " ", found.group(1))


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/log").text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_error_pages_speak_the_readers_language_and_keep_the_header(
    store_url: str, pca: str, lang: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(database_url=store_url), jobs=False)
    with TestClient(app) as client:
        assert sign_in(client, pca, "admin").status_code == 303
        client.get(f"/console/log?lang={lang}")
        csrf = _csrf(client)
        with caplog.at_level(logging.INFO, logger="kansa.web"):
            refused = client.post(
                "/console/export/events", data={"csrf": csrf, "from": "2001-01-01", "to": ""}
            )
        missing = client.get("/console/events/01JZZZZZZZZZZZZZZZZZZZZZZZ")
        pages = {400: refused, 404: missing}
        assert "outside the allowed period" in caplog.text  # the detail went to the log
        assert sign_in(client, pca, "u-jiro").status_code == 303
        client.get(f"/console/log?lang={lang}")
        pages[403] = client.post(
            "/console/export/events", data={"csrf": _csrf(client), "from": "", "to": ""}
        )
    for status, reply in pages.items():
        assert reply.status_code == status
        main = _main(reply.text)
        assert "エラー" in main if lang == "ja" else "Error" in main
        if lang == "ja":
            english = set(ASCII_WORDS.findall(main))
            assert not english, f"{status}: English on a Japanese page: {english}"
        assert 'action="/console/signout"' in reply.text
        assert "ひかり商事" in reply.text
        assert f'lang="{lang}"' in reply.text
