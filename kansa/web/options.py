"""What a tab offers a reader: whether they see it at all, the choices of its search form
and the columns they may pick — from the catalog, in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kansa.catalog import Catalog, EventType, Label, Product
from kansa.catalog.columns import FIELDS
from kansa.catalog.screens import Column, Tab
from kansa.events.present import HISTORY_LABELS, LEVEL_LABELS
from kansa.words import LEVELS, PRODUCT_HISTORIES, Lang, Role

Choice = tuple[str, str]
EXTRA_COLUMNS = ("level", "actor_login", "actor_name", "action", "category", "result", "trace_id")


@dataclass(frozen=True, slots=True)
class ColumnChoice:
    key: str
    label: str
    sort: str | None


def seen(catalog: Catalog, role: Role, history: str | None) -> list[EventType]:
    """The event types ``role`` sees on screen in ``history`` (None: every product history;
    kansa's own is listed only when named)."""
    return [
        t
        for t in catalog.event_types()
        if role in t.screen
        and (t.history == history if history else t.history in PRODUCT_HISTORIES)
    ]


def tabs_for(
    tabs: tuple[Tab, ...], catalog: Catalog, role: Role, product: str | None = None
) -> list[Tab]:
    """The tabs with something ``role`` may see of ``product`` (of any product when the
    catalog has no such product) or of kansa's own history: KDDI's general users get the
    login history alone."""
    known = product in catalog.products

    def offered(tab: Tab) -> bool:
        types = seen(catalog, role, tab.history)
        return any(not known or t.product == product or t.history == "access" for t in types)

    return [t for t in tabs if offered(t)]


def form_choices(
    tab: Tab, product: Product | None, catalog: Catalog, role: Role, lang: Lang
) -> dict[str, list[Choice]]:
    """The options of every select and check-box group of ``tab``'s form."""
    types = [
        t for t in seen(catalog, role, tab.history) if product is None or t.product == product.id
    ]
    owner = product.id if product else None
    choices: dict[str, list[Choice]] = {
        "level": [(code, LEVEL_LABELS[code].get(lang)) for code in LEVELS],
        "history": [(code, HISTORY_LABELS[code].get(lang)) for code in PRODUCT_HISTORIES],
    }
    choices["chart"] = choices["level"]
    if product is not None:
        choices["group"] = _labelled(product.groups, lang)
        choices["service"] = [(v, v) for v in product.values.get("service", ())]
        results = next((f.options for f in tab.filters if f.kind == "result"), ())
        codes = results or tuple(dict.fromkeys(r for t in types for r in t.results))
        choices["result"] = [(c, _get(product.results, c, lang)) for c in codes]
        choices["module"] = [(m, m) for m in dict.fromkeys(m for t in types for m in modules(t))]
        code_only = any(c.field == "action_code" for c in tab.columns)
        choices["action"] = [
            (t.action, t.shown_code() if code_only else t.title(lang)) for t in types
        ]
        words = {**LEVEL_LABELS, **product.levels}
        choices["chart"] = [(code, words[code].get(lang)) for code in LEVELS]
        choices["level"] = _levels(product, types, lang)
    categories: dict[str, str] = {}
    for event_type in seen(catalog, role, tab.history):
        if owner is None or event_type.product in (owner, "kansa"):
            label = catalog.products[event_type.product].categories.get(event_type.category)
            categories.setdefault(event_type.category, label.get(lang) if label else "")
    choices["category"] = list(categories.items())
    return choices


def columns_for(
    tab: Tab, product: Product | None, lang: Lang, chosen: list[str] | None
) -> list[ColumnChoice]:
    """The columns to show: the reader's choice where the tab allows one, else the tab's."""
    available = available_columns(tab, product, lang)
    if tab.choose_columns and chosen:
        picked = [available[k] for k in chosen if k in available]
        if picked:
            return picked
    return [available[c.field] for c in tab.columns]


def available_columns(tab: Tab, product: Product | None, lang: Lang) -> dict[str, ColumnChoice]:
    """Every column of ``tab`` and, where columns may be chosen, the recorded fields."""
    out = {c.field: _column(c, product, lang) for c in tab.columns}
    if tab.choose_columns:
        for key in EXTRA_COLUMNS:
            out.setdefault(key, _column(Column(key), product, lang))
        for name in product.fields if product else ():
            key = f"param:{name}"
            out.setdefault(key, _column(Column(key), product, lang))
    return out


def _column(column: Column, product: Product | None, lang: Lang) -> ColumnChoice:
    if column.field.startswith("param:"):
        name = column.field.removeprefix("param:")
        label = column.label or (product.fields.get(name) if product else None)
        return ColumnChoice(column.field, label.get(lang) if label else name, None)
    spec = FIELDS[column.field]
    return ColumnChoice(column.field, (column.label or spec.label).get(lang), spec.sort)


def modules(event_type: EventType) -> tuple[str, ...]:
    """The modules that log ``event_type``."""
    return event_type.modules or (event_type.module,)


def _levels(product: Product, types: list[EventType], lang: Lang) -> list[Choice]:
    """The levels the product's catalog uses, in its own words (Garoon: Notice,
    Information), in kansa's order."""
    used = {t.level for t in types} | {v for t in types for v in t.result_levels.values()}
    words = {**LEVEL_LABELS, **product.levels}
    return [(code, words[code].get(lang)) for code in LEVELS if code in used]


def _labelled(labels: Mapping[str, Label], lang: Lang) -> list[Choice]:
    return [(code, label.get(lang)) for code, label in labels.items()]


def _get(labels: Mapping[str, Label], code: str, lang: Lang) -> str:
    label = labels.get(code)
    return label.get(lang) if label is not None else code
