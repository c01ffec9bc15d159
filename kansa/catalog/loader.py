"""Load catalogs from TOML files and check them, naming the file and key of any mistake.

The format is described in ``docs/catalogs.md``; the shipped files are in
``kansa/catalog/catalogs/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kansa.catalog.model import (
    Catalog,
    EventType,
    Label,
    Product,
)
from kansa.catalog.template import Template
from kansa.catalog.toml import read_toml
from kansa.errors import ConfigError
from kansa.words import HISTORIES, LANGS, LEVELS, ROLES

SHIPPED_DIR = Path(__file__).parent / "catalogs"

_PRODUCT_KEYS = {"id", "name", "apps", "layout", "regions", "times"}
_TOP_KEYS = {
    "product",
    "retention",
    "categories",
    "results",
    "groups",
    "values",
    "fields",
    "levels",
    "events",
}
_EVENT_KEYS = {
    "action",
    "category",
    "history",
    "level",
    "module",
    "modules",
    "code",
    "regions",
    "label",
    "results",
    "params",
    "group",
    "screen",
    "csv",
    "description",
    "message",
    "result_messages",
    "result_levels",
}


def default_catalog_paths() -> list[Path]:
    """The catalogs kansa ships, one per product."""
    return sorted(SHIPPED_DIR.glob("*.toml"))


def load_catalog(paths: Iterable[Path | str]) -> Catalog:
    """Load every file in ``paths`` into one catalog. A product id defined twice is an
    error, so a user's catalog cannot silently replace a shipped one."""
    products: dict[str, Product] = {}
    for path in paths:
        product = load_product(Path(path))
        if product.id in products:
            raise ConfigError(
                f"{path}: product {product.id!r} is already defined in "
                f"{products[product.id].source}"
            )
        products[product.id] = product
    return Catalog(products)


def load_product(path: Path) -> Product:
    data = read_toml(path, "catalog")
    try:
        return _product(data, str(path))
    except _Bad as exc:
        raise ConfigError(f"{path}: {exc.where}: {exc.what}") from None


class _Bad(Exception):
    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where, self.what = where, what


def _product(data: Mapping[str, Any], source: str) -> Product:
    _only(data, _TOP_KEYS, "")
    head = _table(data, "product", "")
    _only(head, _PRODUCT_KEYS, "product")
    product_id = _str(head, "id", "product")
    categories = _labels(data.get("categories", {}), "categories")
    results = _labels(data.get("results", {}), "results")
    groups = _labels(data.get("groups", {}), "groups")
    fields = _labels(data.get("fields", {}), "fields")
    values = {
        name: tuple(_str_list(data["values"], name, "values"))
        for name in _table(data, "values", "", required=False)
    }
    retention: dict[str, int | None] = {}
    for history, days in _table(data, "retention", "", required=False).items():
        if history not in HISTORIES:
            raise _Bad(f"retention.{history}", f"must be one of {', '.join(HISTORIES)}")
        if not isinstance(days, int) or days < 0:
            raise _Bad(f"retention.{history}", "must be a whole number of days (0: keep all)")
        retention[history] = days or None
    levels = _labels(data.get("levels", {}), "levels")
    for level in levels:
        if level not in LEVELS:
            raise _Bad(f"levels.{level}", f"must be one of {', '.join(LEVELS)}")
    regions = tuple(_str_list(head, "regions", "product", required=False))
    raw_events = data.get("events", [])
    if not isinstance(raw_events, list) or not raw_events:
        raise _Bad("events", "must be a non-empty array of tables ([[events]])")
    events: dict[str, EventType] = {}
    for index, raw in enumerate(raw_events):
        where = f"events[{index}]"
        event = _event(raw, where, product_id, head, categories, results, groups)
        for region in event.regions:
            if region not in regions:
                raise _Bad(f"{where}.regions", f"{region!r} is not in product.regions")
        if event.action in events:
            raise _Bad(f"{where}.action", f"{event.action!r} is defined twice")
        events[event.action] = event
    return Product(
        id=product_id,
        name=_str(head, "name", "product"),
        apps=tuple(_str_list(head, "apps", "product")),
        layout=_str(head, "layout", "product", default=product_id),
        categories=categories,
        results=results,
        groups=groups,
        values=values,
        fields=fields,
        retention_days=retention,
        levels=levels,
        regions=regions,
        times=frozenset(_str_list(head, "times", "product", required=False)),
        events=events,
        source=source,
    )


def _event(
    raw: Any,
    where: str,
    product_id: str,
    head: Mapping[str, Any],
    categories: Mapping[str, Label],
    results: Mapping[str, Label],
    groups: Mapping[str, Label],
) -> EventType:
    if not isinstance(raw, dict):
        raise _Bad(where, "must be a table")
    _only(raw, _EVENT_KEYS, where)
    action = _str(raw, "action", where)
    where = f"{where} ({action})"
    category = _choice(raw, "category", where, list(categories))
    history = _choice(raw, "history", where, list(HISTORIES))
    level = _choice(raw, "level", where, list(LEVELS))
    allowed = _str_list(raw, "results", where)
    for result in allowed:
        if result not in results:
            raise _Bad(f"{where}.results", f"{result!r} is not defined in [results]")
    group = raw.get("group")
    if group is not None and group not in groups:
        raise _Bad(f"{where}.group", f"{group!r} is not defined in [groups]")
    message = _template(raw.get("message"), f"{where}.message")
    overrides = {}
    for result, text in _table(raw, "result_messages", where, required=False).items():
        if result not in allowed:
            raise _Bad(f"{where}.result_messages.{result}", "is not one of this action's results")
        overrides[result] = _template(text, f"{where}.result_messages.{result}")
    result_levels: dict[str, str] = {}
    for result, lvl in _table(raw, "result_levels", where, required=False).items():
        if result not in allowed:
            raise _Bad(f"{where}.result_levels.{result}", "is not one of this action's results")
        if lvl not in LEVELS:
            raise _Bad(f"{where}.result_levels.{result}", f"must be one of {', '.join(LEVELS)}")
        result_levels[result] = lvl
    params = _str_list(raw, "params", where, required=False)
    label = _label(raw.get("label"), f"{where}.label")
    code = _code(raw, where)
    valued = _template(label.as_dict(), f"{where}.label").names
    if code is not None:
        valued |= code.names
    for name in sorted(valued - set(params)):
        raise _Bad(f"{where}.params", f"must list {name!r}, which the label or code names")
    modules = _str_list(raw, "modules", where, required=False)
    if modules and "module" in raw:
        raise _Bad(f"{where}.modules", "give module or modules, not both")
    return EventType(
        product=product_id,
        action=action,
        category=category,
        history=history,
        level=level,
        module=modules[0]
        if modules
        else _str(raw, "module", where, default=_str(head, "name", "product")),
        label=label,
        results=tuple(allowed),
        message=message,
        result_messages=overrides,
        result_levels=result_levels,
        params=tuple(params),
        group=group,
        screen=_audience(raw, "screen", where),
        csv=_audience(raw, "csv", where),
        description=_str(raw, "description", where, default=""),
        code=code,
        modules=tuple(modules),
        regions=frozenset(_str_list(raw, "regions", where, required=False)),
    )


def _code(raw: Mapping[str, Any], where: str) -> Template | None:
    """``code = "login API({api})"``: the action as the product writes it, with a value."""
    if "code" not in raw:
        return None
    text = _str(raw, "code", where)
    try:
        return Template.parse(text, text)
    except ValueError as exc:
        raise _Bad(f"{where}.code", str(exc)) from None


def _only(data: Mapping[str, Any], keys: set[str], where: str) -> None:
    for key in data:
        if key not in keys:
            at = f"{where}.{key}" if where else key
            raise _Bad(at, f"unknown key; expected one of {', '.join(sorted(keys))}")


def _table(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> dict[str, Any]:
    value = data.get(key)
    at = f"{where}.{key}" if where else key
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _Bad(at, "must be a table")
    return value


def _str(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise _Bad(f"{where}.{key}", "must be a non-empty string")
    return value


def _str_list(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> list[str]:
    value = data.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{where}.{key}", "must be a non-empty list of strings")
    return list(value)


def _choice(data: Mapping[str, Any], key: str, where: str, allowed: list[str]) -> str:
    value = _str(data, key, where)
    if value not in allowed:
        raise _Bad(f"{where}.{key}", f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _label(raw: Any, where: str, empty: bool = False) -> Label:
    if not isinstance(raw, dict) or set(raw) != set(LANGS):
        raise _Bad(where, "must be a table with exactly ja and en")
    if not all(isinstance(v, str) and (v or empty) for v in raw.values()):
        raise _Bad(where, "ja and en must be non-empty strings")
    return Label(raw["ja"], raw["en"])


def _labels(raw: Any, where: str) -> dict[str, Label]:
    if not isinstance(raw, dict):
        raise _Bad(where, "must be a table")
    return {code: _label(value, f"{where}.{code}") for code, value in raw.items()}


def _template(raw: Any, where: str) -> Template:
    label = _label(raw, where, empty=True)
    try:
        return Template.parse(label.ja, label.en)
    except ValueError as exc:
        raise _Bad(where, str(exc)) from None


def _audience(data: Mapping[str, Any], key: str, where: str) -> frozenset[str]:
    value = data.get(key, ["admin"])
    if not isinstance(value, list) or not all(v in ROLES for v in value):
        raise _Bad(f"{where}.{key}", f"must be a list of {', '.join(ROLES)} (may be empty)")
    return frozenset(value)
