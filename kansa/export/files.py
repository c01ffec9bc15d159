"""The files a layout offers for download, as data: ``[exports.<name>]`` tables in the layout
TOML files, plus the generic ones every layout has (``kansa/catalog/exports.toml``)::

    [exports.access-log]
    title = { ja = "ログイン履歴", en = "Login history" }
    file = "access-log_{date}.csv"     # {date} download day, {from} {to} the period, {tenant}
    history = ["login"]                # only these histories (default: the product's)
    filters_apply = false              # only the period applies (KDDI 1.x.2)
    columns = [
      { ja = "日時", en = "Date", field = "occurred_at" },
      { ja = "ユーザID", en = "User ID", field = ["actor.login", "actor.id"] },
    ]

A column's ``field`` is a path into the presented event (``labels.result``, ``targets.0.id``,
``params.api_key_id``) or a list of paths of which the first non-empty wins. ``format =
"time"`` writes an ISO time of a param as a local time; ``values`` relabels codes
(``{ important = { ja = "重要", en = "Notice" } }``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kansa.catalog.model import Label
from kansa.catalog.toml import read_toml
from kansa.errors import ConfigError
from kansa.words import HISTORIES, LANGS, Lang

COMMON_PATH = Path(__file__).resolve().parent.parent / "catalog" / "exports.toml"
FORMATS = ("auto", "time", "json")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PLACEHOLDERS = ("date", "from", "to", "tenant")
_FILE_KEYS = {"title", "file", "history", "filters_apply", "columns"}
_COLUMN_KEYS = {"ja", "en", "field", "format", "values"}


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column: its header in both languages and where its value comes from."""

    header: Label
    fields: tuple[str, ...]
    format: str = "auto"
    values: Mapping[str, Label] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One downloadable file of a layout."""

    name: str
    title: Label
    file: str
    """The file name pattern, e.g. ``access-log_{date}.csv``."""
    columns: tuple[Column, ...]
    histories: tuple[str, ...] = ()
    filters_apply: bool = True

    def headers(self, lang: Lang) -> list[str]:
        return [column.header.get(lang) for column in self.columns]

    def filename(
        self,
        *,
        tenant: str,
        now: datetime,
        since: datetime | None,
        until: datetime | None,
        fmt: str = "csv",
    ) -> str:
        """The file's name; every date is in the zone of ``now`` (the tenant's). ``to`` is the
        last day of the period (``until`` is exclusive)."""
        last = (until - timedelta(microseconds=1)).astimezone(now.tzinfo) if until else now
        name = self.file.format(
            date=f"{now:%Y%m%d}",
            tenant=tenant,
            to=f"{last:%Y%m%d}",
            **{"from": f"{since.astimezone(now.tzinfo):%Y%m%d}" if since else "start"},
        )
        if fmt == "jsonl":
            name = name.removesuffix(".csv") + ".jsonl"
        return name


def parse_exports(raw: object, where: str) -> dict[str, ExportFile]:
    """The ``[exports]`` table of a layout file."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: exports must be a table of [exports.<name>] tables")
    return {name: _file(name, spec, f"{where}: exports.{name}") for name, spec in raw.items()}


@functools.cache
def common_exports(path: Path = COMMON_PATH) -> dict[str, ExportFile]:
    """The files every layout offers (the PCA ID column set, as ``events``)."""
    data = read_toml(path, "exports")
    return parse_exports(data.get("exports"), str(path))


def _file(name: str, spec: object, where: str) -> ExportFile:
    if not _NAME.match(name):
        raise ConfigError(f"{where}: a name is lower-case letters, digits, - and _")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a table")
    _only(spec, _FILE_KEYS, where)
    pattern = spec.get("file")
    if not isinstance(pattern, str) or not pattern.endswith(".csv"):
        raise ConfigError(f"{where}.file: a file name pattern ending in .csv")
    try:
        pattern.format(**{k: "x" for k in _PLACEHOLDERS})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"{where}.file: placeholders are {', '.join('{' + p + '}' for p in _PLACEHOLDERS)}"
            f" ({exc})"
        ) from None
    histories = spec.get("history", [])
    if not isinstance(histories, list) or not set(histories) <= set(HISTORIES):
        raise ConfigError(f"{where}.history: a list of {', '.join(HISTORIES)}")
    filters_apply = spec.get("filters_apply", True)
    if not isinstance(filters_apply, bool):
        raise ConfigError(f"{where}.filters_apply: true or false")
    columns = spec.get("columns")
    if not isinstance(columns, list) or not columns:
        raise ConfigError(f"{where}.columns: a non-empty list of columns")
    return ExportFile(
        name=name,
        title=_label(spec.get("title", {"ja": name, "en": name}), f"{where}.title"),
        file=pattern,
        columns=tuple(_column(c, f"{where}.columns[{i}]") for i, c in enumerate(columns)),
        histories=tuple(histories),
        filters_apply=filters_apply,
    )


def _column(spec: object, where: str) -> Column:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: a column is {{ ja = ..., en = ..., field = ... }}")
    _only(spec, _COLUMN_KEYS, where)
    raw = spec.get("field")
    paths = [raw] if isinstance(raw, str) else raw
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        raise ConfigError(f"{where}.field: a path or a list of paths")
    fmt = spec.get("format", "auto")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}.format: one of {', '.join(FORMATS)}")
    values = spec.get("values", {})
    if not isinstance(values, dict):
        raise ConfigError(f"{where}.values: a table of code = {{ ja, en }}")
    return Column(
        header=_label({"ja": spec.get("ja"), "en": spec.get("en")}, where),
        fields=tuple(paths),
        format=fmt,
        values={code: _label(label, f"{where}.values.{code}") for code, label in values.items()},
    )


def _label(raw: Any, where: str) -> Label:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in LANGS):
        raise ConfigError(f"{where}: needs ja and en strings")
    return Label(raw["ja"], raw["en"])


def _only(spec: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(spec) - keys)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
