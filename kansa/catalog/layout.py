"""Layouts: how a product shows and exports its events — the time window each kind of reader
may see on screen and in exports, and the files it offers for download (``[exports.<name>]``,
see :mod:`kansa.export.files`). Data files in ``kansa/catalog/layouts/``, and an operator's
own (``KANSA_LAYOUTS``).

A window is ``{ days = N }`` (from the day N days before today to today), ``{ since =
"first-of-month-last-year" }`` (KDDI: from the 1st of the same month last year), or ``{}``
(no limit). Windows are whole days in the tenant's zone, its first day included from
midnight: any day a date picker offers is allowed. A role with no window for a purpose may
not read for it at all.

``log_access = false`` in ``[layout]`` hides kansa's own history (ログの利用履歴: sign-ins,
detail views, downloads, retention) from the console: no tab and no ``log-access`` file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from kansa.catalog.toml import read_toml
from kansa.errors import ConfigError
from kansa.export.files import ExportFile, common_exports, parse_exports
from kansa.words import PURPOSES, ROLES, Purpose, Role

LAYOUT_DIR = Path(__file__).parent / "layouts"
SINCE_KINDS = ("first-of-month-last-year",)
LOG_ACCESS_FILE = "log-access"
"""The common file of kansa's own history (``kansa/catalog/exports.toml``)."""


@dataclass(frozen=True, slots=True)
class Window:
    """How far back a reader may look."""

    days: int | None = None
    since: str | None = None

    def start(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """The earliest moment this window allows — the start of its first day in ``tz`` —
        or None when it has no limit."""
        today = now.astimezone(tz).date()
        if self.days is not None:
            first = today - timedelta(days=self.days)
        elif self.since == "first-of-month-last-year":
            first = date(today.year - 1, today.month, 1)
        else:
            return None
        return datetime.combine(first, time(0), tzinfo=tz)

    def covers_more_than(self, other: Window | None, now: datetime, tz: ZoneInfo) -> bool:
        """Whether this window reaches further back than ``other``."""
        if other is None:
            return True
        mine, theirs = self.start(now, tz), other.start(now, tz)
        return theirs is not None and (mine is None or mine < theirs)

    def describe(self) -> str:
        if self.days is not None:
            return f"the last {self.days} days"
        if self.since == "first-of-month-last-year":
            return "from the 1st of the same month last year to today"
        return "no limit"


@dataclass(frozen=True, slots=True)
class Layout:
    id: str
    product: str
    name: str
    windows: Mapping[tuple[str, str], Window]
    """(purpose, role) → window; a missing pair means that role may not read for it."""
    exports: Mapping[str, ExportFile] = field(default_factory=dict)
    """The layout's own files; the common ones (:func:`common_exports`) come on top."""
    log_access: bool = True
    """Whether the console shows kansa's own history (its tab and its file)."""

    def window(self, purpose: Purpose, role: Role) -> Window | None:
        return self.windows.get((purpose, role))

    def export_files(self) -> dict[str, ExportFile]:
        """Every file this layout offers: its own, then the common ones it does not redefine."""
        common = {
            k: v
            for k, v in common_exports().items()
            if k not in self.exports and (self.log_access or k != LOG_ACCESS_FILE)
        }
        return {**self.exports, **common}

    def export(self, name: str) -> ExportFile | None:
        return self.export_files().get(name)


DEFAULT_LAYOUT = Layout(
    id="default",
    product="",
    name="kansa",
    windows={
        ("screen", "admin"): Window(),
        ("screen", "user"): Window(),
        ("export", "admin"): Window(),
    },
)


def default_layout_paths() -> list[Path]:
    return sorted(LAYOUT_DIR.glob("*.toml"))


def load_layouts(paths: Iterable[Path]) -> dict[str, Layout]:
    """Every layout in ``paths``, by id. A layout id defined twice is an error, so an
    operator's file cannot silently replace a shipped one."""
    layouts: dict[str, Layout] = {}
    sources: dict[str, Path] = {}
    for path in paths:
        layout = load_layout(path)
        if layout.id in layouts:
            raise ConfigError(
                f"{path}: layout.id: {layout.id!r} is already defined in {sources[layout.id]}"
            )
        layouts[layout.id] = layout
        sources[layout.id] = path
    return layouts


def load_layout(path: Path) -> Layout:
    data = read_toml(path, "layout")
    head = data.get("layout")
    if not isinstance(head, dict) or not all(
        isinstance(head.get(k), str) and head.get(k) for k in ("id", "product", "name")
    ):
        raise ConfigError(f"{path}: [layout] needs id, product and name")
    windows: dict[tuple[str, str], Window] = {}
    for purpose, roles in data.get("windows", {}).items():
        if purpose not in PURPOSES or not isinstance(roles, dict):
            raise ConfigError(f"{path}: windows.{purpose}: purpose must be screen or export")
        for role, spec in roles.items():
            windows[(purpose, role)] = _window(spec, f"{path}: windows.{purpose}.{role}", role)
    exports = parse_exports(data.get("exports"), str(path))
    log_access = head.get("log_access", True)
    if not isinstance(log_access, bool):
        raise ConfigError(f"{path}: layout.log_access: must be true or false")
    return Layout(head["id"], head["product"], head["name"], windows, exports, log_access)


def _window(spec: object, where: str, role: str) -> Window:
    if role not in ROLES:
        raise ConfigError(f"{where}: role must be admin or user")
    if not isinstance(spec, dict) or set(spec) - {"days", "since"} or len(spec) > 1:
        raise ConfigError(f"{where}: a window is {{}}, {{ days = N }} or {{ since = ... }}")
    days = spec.get("days")
    if days is not None and (not isinstance(days, int) or days < 1):
        raise ConfigError(f"{where}: days must be a positive whole number")
    since = spec.get("since")
    if since is not None and since not in SINCE_KINDS:
        raise ConfigError(f"{where}: since must be one of {', '.join(SINCE_KINDS)}")
    return Window(days=days, since=since)
