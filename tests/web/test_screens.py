"""The screen files beside the layouts, and the chart's arithmetic."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kansa.catalog import Catalog
from kansa.catalog.layout import default_layout_paths, load_layouts
from kansa.catalog.screens import (
    SCREEN_DIR,
    default_screen_paths,
    load_screen,
    load_screens,
    screen_for,
)
from kansa.errors import ConfigError
from kansa.web import chart
from kansa.web.options import form_choices


def test_every_layout_has_its_screen_and_every_choice_is_labelled(catalog: Catalog) -> None:
    layouts = load_layouts(default_layout_paths())
    screens = load_screens(default_screen_paths(), layouts)
    for layout in layouts.values():
        screen = screen_for(screens, layout.id)
        assert screen.layout == layout.id
        product = catalog.products[layout.product]
        for tab in screen.tabs:
            assert tab.export is None or layout.export(tab.export) is not None, tab.export
            choices = form_choices(tab, product, catalog, "admin", "ja")
            for spec in tab.filters:
                if spec.kind not in ("period", "actor", "target", "text"):
                    assert choices[spec.kind], (layout.id, tab.id, spec.kind)
    kddi = screen_for(screens, "kddi-business-id")
    assert [t.label.ja for t in kddi.tabs] == ["ログイン履歴", "操作履歴", "サービス連携履歴"]
    assert screen_for(screens, "no-such-layout").layout == "default"
    assert (SCREEN_DIR / "default.toml").is_file()


def test_a_wrong_screen_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[screen]\nlayout = "x"\ntitle = { ja = "a", en = "b" }\n'
        '[[tabs]]\nid = "t"\nlabel = { ja = "a", en = "b" }\n'
        'columns = [{ field = "nonsense" }]\nfilters = [{ kind = "period" }]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"tabs\[0\]\.columns\[0\]\.field"):
        load_screen(path)


def test_the_chart_stacks_levels_per_day_in_the_tenant_zone() -> None:
    moments = [
        ("2026-11-20T15:30:00.000000Z", "info", False),  # 2026-11-21 00:30 JST
        ("2026-11-21T01:00:00.000000Z", "warning", True),
        ("2026-11-21T02:00:00.000000Z", "info", True),  # Garoon: FAILED at Information
        ("2026-11-22T03:00:00.000000Z", "error", False),
    ]
    drawn = chart.build(moments, date(2026, 11, 20), date(2026, 11, 22), "Asia/Tokyo")
    assert [b.total for b in drawn.bars] == [0, 3, 1]
    assert drawn.peak == 3 and drawn.failures == 3 and drawn.total == 4
    tallest = drawn.bars[1]
    assert [s.level for s in tallest.segments] == ["info", "warning"]
    assert tallest.segments[-1].y == 0  # the peak fills the height
    long = chart.build([], date(2024, 1, 1), date(2026, 1, 1), "UTC")
    assert len(long.bars) <= chart.MAX_BARS and long.bars[0].days == 2
