"""An operator's own layouts and screens (``KANSA_LAYOUTS``, ``KANSA_SCREENS``, ``kansa serve
--layout-file/--screen-file``): loaded beside the shipped ones, checked like them, and held by
the app that loaded them — another app in the same process does not see them."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kansa.cli import app as cli_app
from kansa.errors import ConfigError
from kansa.server.app import create_app
from kansa.settings import Settings
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import new_key, password_hash

PASSWORD = "operator-files-password"

LAYOUT = """
[layout]
id = "acme-audit"
product = "pca-id"
name = "ACME audit"

[windows.screen]
admin = { days = 3 }

[windows.export]
admin = { days = 5 }
"""

SCREEN = """
[screen]
layout = "acme-audit"
title = { ja = "ACME 監査", en = "ACME audit" }

[[tabs]]
id = "ops"
label = { ja = "ACME 操作ログ", en = "ACME operations" }
columns = [{ field = "occurred_at" }, { field = "actor" }, { field = "action" }]
filters = [{ kind = "period" }, { kind = "actor" }]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def acme(store: Store, tenant_id: str) -> str:
    """A tenant on the operator's layout, with an administrator."""
    store.create_tenant(tenant_id, name="ACME", layout="acme-audit", tz="Asia/Tokyo", lang="ja")
    hashed = password_hash(PASSWORD)
    store.create_account(tenant_id, "admin", name="管理 太郎", role="admin", password_hash=hashed)
    return tenant_id


def console_log(client: TestClient, tenant: str) -> str:
    form = client.get("/console/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    signed = client.post(
        "/console/signin",
        data={"tenant": tenant, "login": "admin", "password": PASSWORD, "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    page = client.get("/console/log")
    assert page.status_code == 200
    text: str = page.text
    return text


def test_an_operators_layout_and_screen_are_applied_to_their_app_only(
    store_url: str, store: Store, acme: str, tmp_path: Path
) -> None:
    files = Settings(
        database_url=store_url,
        layouts=[write(tmp_path, "acme.toml", LAYOUT)],
        screens=[write(tmp_path, "acme-screen.toml", SCREEN)],
    )
    auth = {"Authorization": f"Bearer {new_key(store, tenant=acme)}"}
    week_ago = (utcnow() - timedelta(days=7)).isoformat()
    with (
        TestClient(create_app(files)) as own,
        TestClient(create_app(Settings(database_url=store_url))) as plain,
    ):
        assert "ACME 操作ログ" in console_log(own, acme)
        refused = own.get("/api/v1/events", params={"from": week_ago}, headers=auth)
        assert refused.status_code == 400 and "the last 5 days" in refused.text
        # The app without the files shows the tenant the default layout and screen.
        page = console_log(plain, acme)
        assert "ACME 操作ログ" not in page and "すべてのログ" in page
        assert plain.get("/api/v1/events", params={"from": week_ago}, headers=auth).is_success


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        ("layout", LAYOUT.replace("days = 3", "days = 0"), "windows.screen.admin"),
        ("layout", LAYOUT.replace('"acme-audit"', '"pca-id"'), "layout.id"),
        ("screen", SCREEN.replace('"acme-audit"', '"acme-audti"'), "screen.layout"),
        ("screen", SCREEN.replace('field = "actor"', 'field = "who"'), "columns[1].field"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_field(
    name: str, text: str, field: str, tmp_path: Path
) -> None:
    layout = write(tmp_path, "acme.toml", LAYOUT if name == "screen" else text)
    screen = write(tmp_path, "acme-screen.toml", text if name == "screen" else SCREEN)
    bad = layout if name == "layout" else screen
    settings = Settings(database_url="sqlite:///:memory:", layouts=[layout], screens=[screen])
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert str(refused.value).startswith(f"{bad}: ") and field in str(refused.value)


def test_kansa_serve_refuses_a_bad_layout_file_in_one_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "acme.toml", LAYOUT.replace("days = 3", "days = -1"))
    db = f"sqlite:///{tmp_path / 'kansa.db'}"
    result = CliRunner().invoke(cli_app, ["serve", "--db", db, "--layout-file", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"kansa: {bad}: windows.screen.admin: days must be a positive whole number"
    ]


def test_the_settings_read_comma_separated_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KANSA_LAYOUTS", "/etc/kansa/a.toml, /etc/kansa/b.toml")
    monkeypatch.setenv("KANSA_SCREENS", "/etc/kansa/s.toml")
    settings = Settings()
    assert settings.layouts == [Path("/etc/kansa/a.toml"), Path("/etc/kansa/b.toml")]
    assert settings.screens == [Path("/etc/kansa/s.toml")]
