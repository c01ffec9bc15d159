"""Screens: what the console shows for a layout — its tabs, and on each tab the columns and
the search form. Data files in ``kansa/catalog/screens/<layout>.toml``, beside the catalogs
and layouts, and an operator's own (``KANSA_SCREENS``); ``default.toml`` serves a tenant whose
layout has no screen.

A tab names the history it lists (none: every history the reader may see), its columns
(``field`` from :data:`kansa.catalog.columns.FIELDS`, with an optional ``label``) and its filters
(``kind`` from :data:`FILTER_KINDS`). ``choose_columns`` lets a reader pick the columns among
the tab's and the product's recorded fields (microCMS 表示項目の編集).

kansa's own history has a tab of its own, ``log_access.toml`` beside this module, which
:func:`with_log_access` adds after a screen's tabs where the layout shows it: a screen file
never lists kansa's events among a product's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from kansa.catalog import Label
from kansa.catalog.columns import FIELDS
from kansa.catalog.toml import read_toml
from kansa.errors import ConfigError
from kansa.words import HISTORIES, LANGS

SCREEN_DIR = Path(__file__).resolve().parent / "screens"
LOG_ACCESS_TAB = Path(__file__).resolve().parent / "log_access.toml"
FILTER_KINDS = (
    "period",
    "actor",
    "target",
    "result",
    "group",
    "service",
    "action",
    "category",
    "level",
    "module",
    "history",
    "text",
)


@dataclass(frozen=True, slots=True)
class Column:
    field: str
    label: Label | None = None


@dataclass(frozen=True, slots=True)
class FilterSpec:
    kind: str
    label: Label | None = None
    placeholder: Label | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Tab:
    id: str
    label: Label
    history: str | None
    export: str | None
    columns: tuple[Column, ...]
    filters: tuple[FilterSpec, ...]
    choose_columns: bool = False
    download_dialog: bool = False
    """The download of the tab's file opens as a dialog with the period (microCMS), not as a
    panel under the search form."""

    def has(self, kind: str) -> bool:
        return any(f.kind == kind for f in self.filters)


@dataclass(frozen=True, slots=True)
class Screen:
    layout: str
    title: Label
    tabs: tuple[Tab, ...]
    default_days: int | None = None
    """How many days before today the period starts by default (never before the window)."""

    def login_tab(self) -> Tab | None:
        """The first tab of the login history: where a reader's own login history is shown
        (自身のログイン履歴); None when the screen has none."""
        return next((t for t in self.tabs if t.history == "login"), None)

    def tab(self, tab_id: str | None) -> Tab:
        for tab in self.tabs:
            if tab.id == tab_id:
                return tab
        return self.tabs[0]


DEFAULT_SCREEN = "default"
"""The layout id of the screen shown to a tenant whose layout has none."""


def default_screen_paths() -> list[Path]:
    return sorted(SCREEN_DIR.glob("*.toml"))


def load_screens(paths: Iterable[Path], layouts: Iterable[str]) -> dict[str, Screen]:
    """Every screen in ``paths``, by the layout it is for. A screen for a layout that is not
    among ``layouts`` (nor the default), or a layout given two screens, is an error: a typo
    in an operator's file would otherwise leave the console on the default screen."""
    known = {DEFAULT_SCREEN, *layouts}
    screens: dict[str, Screen] = {}
    sources: dict[str, Path] = {}
    for path in paths:
        screen = load_screen(path)
        if screen.layout not in known:
            raise ConfigError(
                f"{path}: screen.layout: {screen.layout!r} is not a layout "
                f"(known: {', '.join(sorted(known))})"
            )
        if screen.layout in screens:
            raise ConfigError(
                f"{path}: screen.layout: {screen.layout!r} already has a screen, "
                f"in {sources[screen.layout]}"
            )
        screens[screen.layout] = screen
        sources[screen.layout] = path
    if DEFAULT_SCREEN not in screens:
        raise ConfigError(f"no screen for layout {DEFAULT_SCREEN!r} among {SCREEN_DIR}")
    return screens


def screen_for(screens: Mapping[str, Screen], layout_id: str) -> Screen:
    """The screen of a layout; the default screen when it has none."""
    return screens.get(layout_id) or screens[DEFAULT_SCREEN]


@lru_cache(maxsize=1)
def log_access_tab() -> Tab:
    """The tab of kansa's own history (ログの利用履歴)."""
    data = read_toml(LOG_ACCESS_TAB, "screen")
    return _tab(data.get("tab"), f"{LOG_ACCESS_TAB}: tab")


def with_log_access(screen: Screen) -> Screen:
    """``screen`` with the tab of kansa's own history after its own tabs."""
    tab = log_access_tab()
    if any(t.id == tab.id for t in screen.tabs):
        return screen
    return replace(screen, tabs=(*screen.tabs, tab))


def load_screen(path: Path) -> Screen:
    data = read_toml(path, "screen")
    head = data.get("screen")
    if not isinstance(head, dict) or not isinstance(head.get("layout"), str):
        raise ConfigError(f"{path}: [screen] needs layout")
    days = head.get("default_days")
    if days is not None and (not isinstance(days, int) or days < 1):
        raise ConfigError(f"{path}: screen.default_days must be a positive whole number")
    raw_tabs = data.get("tabs")
    if not isinstance(raw_tabs, list) or not raw_tabs:
        raise ConfigError(f"{path}: needs at least one [[tabs]]")
    tabs = tuple(_tab(raw, f"{path}: tabs[{i}]") for i, raw in enumerate(raw_tabs))
    if len({t.id for t in tabs}) != len(tabs):
        raise ConfigError(f"{path}: two tabs share an id")
    return Screen(head["layout"], _label(head.get("title"), f"{path}: screen.title"), tabs, days)


def _tab(raw: Any, where: str) -> Tab:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise ConfigError(f"{where}: a tab is a table with an id")
    history = raw.get("history")
    if history is not None and history not in HISTORIES:
        raise ConfigError(f"{where}.history: must be one of {', '.join(HISTORIES)}")
    columns = []
    for index, spec in enumerate(_list(raw, "columns", where)):
        at = f"{where}.columns[{index}]"
        field = spec.get("field")
        if field not in FIELDS and not (isinstance(field, str) and field.startswith("param:")):
            raise ConfigError(f"{at}.field: {field!r} is not one of {', '.join(FIELDS)}")
        columns.append(Column(field, _maybe_label(spec.get("label"), f"{at}.label")))
    filters = []
    for index, spec in enumerate(_list(raw, "filters", where)):
        at = f"{where}.filters[{index}]"
        if spec.get("kind") not in FILTER_KINDS:
            raise ConfigError(f"{at}.kind: must be one of {', '.join(FILTER_KINDS)}")
        options = spec.get("options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise ConfigError(f"{at}.options: must be a list of strings")
        filters.append(
            FilterSpec(
                spec["kind"],
                _maybe_label(spec.get("label"), f"{at}.label"),
                _maybe_label(spec.get("placeholder"), f"{at}.placeholder"),
                tuple(options),
            )
        )
    export = raw.get("export")
    return Tab(
        id=raw["id"],
        label=_label(raw.get("label"), f"{where}.label"),
        history=history,
        export=export if isinstance(export, str) else None,
        columns=tuple(columns),
        filters=tuple(filters),
        choose_columns=bool(raw.get("choose_columns", False)),
        download_dialog=bool(raw.get("download_dialog", False)),
    )


def _list(raw: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = raw.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}.{key}: must be a non-empty list of tables")
    return value


def _label(raw: Any, where: str) -> Label:
    label = _maybe_label(raw, where)
    if label is None:
        raise ConfigError(f"{where}: is required ({{ ja = ..., en = ... }})")
    return label


def _maybe_label(raw: Any, where: str) -> Label | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != set(LANGS):
        raise ConfigError(f"{where}: must be {{ ja = ..., en = ... }}")
    return Label(str(raw["ja"]), str(raw["en"]))
