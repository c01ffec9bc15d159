"""kansa's own history in layouts and screens, and windows as whole days in the tenant's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kansa.catalog.layout import Window, load_layout
from kansa.catalog.screens import load_screen, screen_for, with_log_access
from kansa.errors import ConfigError

TOKYO = ZoneInfo("Asia/Tokyo")
LAYOUT = """
[layout]
id = "acme"
product = "pca-id"
name = "ACME"
{flag}
[windows.screen]
admin = {{ days = 7 }}
[windows.export]
admin = {{ days = 730 }}
"""


def layout_file(tmp_path: Path, flag: str) -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(LAYOUT.format(flag=flag), encoding="utf-8")
    return path


def test_a_layout_shows_its_log_access_unless_it_says_not(tmp_path: Path) -> None:
    shown = load_layout(layout_file(tmp_path, ""))
    assert shown.log_access and "log-access" in shown.export_files()
    hidden = load_layout(layout_file(tmp_path, "log_access = false"))
    assert not hidden.log_access and "log-access" not in hidden.export_files()
    with pytest.raises(ConfigError, match="log_access"):
        load_layout(layout_file(tmp_path, 'log_access = "no"'))


def test_the_log_access_tab_comes_after_a_screens_own() -> None:
    screens = {"default": load_screen(Path("kansa/catalog/screens/default.toml"))}
    screen = with_log_access(screen_for(screens, "default"))
    assert [t.id for t in screen.tabs] == ["all", "log-access"]
    assert screen.tabs[-1].history == "access" and screen.tabs[-1].export == "log-access"
    assert with_log_access(screen) == screen


def test_a_window_starts_at_midnight_of_its_first_day_in_the_tenants_zone() -> None:
    now = datetime(2026, 3, 10, 20, 30, tzinfo=UTC)  # 2026-03-11 05:30 in Tokyo
    start = Window(days=730).start(now, TOKYO)
    assert start == datetime(2024, 3, 11, tzinfo=TOKYO)
    assert start is not None and start.timetz() == time(0, tzinfo=TOKYO)
    kddi = Window(since="first-of-month-last-year").start(now, TOKYO)
    assert kddi == datetime(2025, 3, 1, tzinfo=TOKYO)
    assert Window(days=730).covers_more_than(Window(days=7), now, TOKYO)
    assert not Window().covers_more_than(Window(), now, TOKYO)
