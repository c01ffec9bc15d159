"""Screenshots of each layout's main screen for the docs: ``python -m tests.web.screenshots``
writes ``docs/screenshots/<layout>.png`` at 1280 px (and a phone view of KDDI at 390 px, and
KDDI's general user, who sees their own login history alone)
from a fresh demo database, signed in as each demo tenant's administrator."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from kansa.access.accounts import generate_password
from kansa.catalog import default_catalog_paths, load_catalog
from kansa.demo import demo_accounts, fill
from kansa.integrity.keyfile import ensure_signing_key
from kansa.settings import Settings
from kansa.store import open_store
from tests.web.server import ARGS, CHROMIUM, serve

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SHOTS = [
    # (file, tenant, login, width, height, path after sign-in)
    ("kddi-business-id", "hikari-logistics", "admin", 1280, 1150, "/console/log"),
    ("pca-id", "iidabashi-company", "admin", 1280, 1150, "/console/log"),
    ("microcms", "tsubame-media", "admin", 1280, 1000, "/console/log"),
    ("cybozu", "sakura-trading", "admin", 1280, 1250, "/console/log?lang=en"),
    ("kddi-business-id-phone", "hikari-logistics", "admin", 390, 1500, "/console/log"),
    ("kddi-business-id-user", "hikari-logistics", "user", 1280, 900, "/console/log"),
]


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        store = open_store(url)
        store.migrate()
        catalog = load_catalog(default_catalog_paths())
        fill(store, catalog, 20_000, seed=42)
        password = generate_password()
        accounts = demo_accounts(store, catalog, password)
        users = {a.tenant: a.login for a in accounts if a.role == "user"}
        store.close()
        settings = Settings(database_url=url)
        ensure_signing_key(settings)  # as kansa init: it signs checkpoints and sessions
        with serve(settings) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[*ARGS, "--lang=ja-JP"],
                env={"LANG": "ja_JP.UTF-8", "LANGUAGE": "ja"},
            )
            for name, tenant, login, width, height, path in SHOTS:
                context = browser.new_context(
                    viewport={"width": width, "height": height}, locale="ja-JP"
                )
                page = context.new_page()
                page.goto(f"{base}/console/signin")
                page.fill("#tenant", tenant)
                page.fill("#login", users[tenant] if login == "user" else login)
                page.fill("#password", password)
                page.click("form.stack button[type=submit]")
                page.wait_for_url("**/console/log**")
                page.goto(f"{base}{path}")
                page.screenshot(path=str(OUT / f"{name}.png"))
                context.close()
                print(f"wrote {OUT / name}.png")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
