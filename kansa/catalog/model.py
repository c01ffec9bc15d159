"""The catalog model: products, their event types, results, categories and groups.

Plain immutable data; loading and checking the TOML files is :mod:`kansa.catalog.loader`'s
job, and validating an event against an event type is :mod:`kansa.events.prepare`'.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from kansa.catalog.template import Template
from kansa.words import Lang


@dataclass(frozen=True, slots=True)
class Label:
    """A name shown to people, in Japanese and English."""

    ja: str
    en: str

    def get(self, lang: Lang) -> str:
        return self.ja if lang == "ja" else self.en

    def as_dict(self) -> dict[str, str]:
        return {"ja": self.ja, "en": self.en}


@dataclass(frozen=True, slots=True)
class EventType:
    """One action a product emits, as its catalog describes it."""

    product: str
    action: str
    category: str
    history: str
    level: str
    module: str
    label: Label
    results: tuple[str, ...]
    message: Template
    result_messages: Mapping[str, Template]
    result_levels: Mapping[str, str]
    params: tuple[str, ...]
    """Params the catalog lists explicitly (beyond its templates' names); only these are
    checked against the product's [values]."""
    group: str | None
    screen: frozenset[str]
    csv: frozenset[str]
    description: str = ""
    code: Template | None = None
    """The action as the product writes it when it carries a value (``login API({api})``);
    None: the action code itself."""
    modules: tuple[str, ...] = ()
    """Where the event may come from when more than one module logs it: the event then
    says which in ``params.module``. Empty: always :attr:`module`."""
    regions: frozenset[str] = frozenset()
    """The regions whose tenants may log it; empty: every region."""

    def template_for(self, result: str) -> Template:
        return self.result_messages.get(result, self.message)

    def level_for(self, result: str) -> str:
        """The default level of this action with this result."""
        return self.result_levels.get(result, self.level)

    def required_params(self, result: str) -> frozenset[str]:
        """What an event with ``result`` must supply: the listed params and the names its
        message needs."""
        return frozenset(self.params) | self.template_for(result).required

    def title(self, lang: Lang, values: Mapping[str, object] | None = None) -> str:
        """The action's label; one that names values (``APIへのログイン（{api}）``) gets them
        from ``values``, or ``…`` where there are none (a filter's option)."""
        return Template.parse(self.label.ja, self.label.en).render(lang, values or {}, "…")

    def shown_code(self, values: Mapping[str, object] | None = None) -> str:
        """The action code as the product writes it: ``login API(REST)``."""
        if self.code is None:
            return self.action
        return self.code.render("en", values or {}, "…")

    def module_of(self, params: Mapping[str, object]) -> str:
        """The module that logged an event with ``params``."""
        given = params.get("module")
        return given if isinstance(given, str) and given in self.modules else self.module

    def param_names(self) -> list[str]:
        """Every name this action's messages need, for any result, listed params first."""
        names = list(self.params)
        for template in (self.message, *self.result_messages.values()):
            names.extend(sorted(template.required - set(names)))
        return names


@dataclass(frozen=True, slots=True)
class Product:
    """A product's catalog: what it emits and how its words are labelled."""

    id: str
    name: str
    apps: tuple[str, ...]
    layout: str
    categories: Mapping[str, Label]
    results: Mapping[str, Label]
    groups: Mapping[str, Label]
    values: Mapping[str, tuple[str, ...]]
    fields: Mapping[str, Label]
    retention_days: Mapping[str, int | None]
    levels: Mapping[str, Label] = field(default_factory=dict)
    """The product's own words for levels (Garoon: Notice, Information); others: kansa's."""
    regions: tuple[str, ...] = ()
    """The regions the product runs in (Cybozu: JP, US, CN); empty when it has none."""
    times: frozenset[str] = frozenset()
    """The params that are times (microCMS's 公開開始): an ISO 8601 time with its offset when
    published, written in a message in the tenant's zone as ``yyyy/mm/dd hh:mm:ss``."""
    events: Mapping[str, EventType] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True, slots=True)
class Lookup:
    """The outcome of finding an action: the event type, or why there is none."""

    event_type: EventType | None
    path: str = ""
    message: str = ""


class Catalog:
    """Every loaded product, and the event types found by (app, action)."""

    def __init__(self, products: Mapping[str, Product]) -> None:
        self.products: dict[str, Product] = dict(products)
        self._by_app: dict[str, str] = {}
        for product in self.products.values():
            for app in product.apps:
                self._by_app.setdefault(app, product.id)
        self._by_action: dict[str, list[EventType]] = {}
        for event_type in self.event_types():
            self._by_action.setdefault(event_type.action, []).append(event_type)

    def event_types(self) -> Iterator[EventType]:
        for product in self.products.values():
            yield from product.events.values()

    def __len__(self) -> int:
        return sum(len(p.events) for p in self.products.values())

    def product_of_app(self, app: str | None) -> Product | None:
        product_id = self._by_app.get(app) if app else None
        return self.products[product_id] if product_id else None

    def get(self, product: str, action: str) -> EventType | None:
        owner = self.products.get(product)
        return owner.events.get(action) if owner else None

    def find(self, app: str | None, action: str) -> Lookup:
        """Find ``action`` in the product that publishes as ``app``; when ``app`` names no
        product, in whichever single product knows the action."""
        product = self.product_of_app(app)
        if product is not None:
            found = product.events.get(action)
            if found is not None:
                return Lookup(found)
            return Lookup(None, "action", self._unknown(action, list(product.events), product.name))
        candidates = self._by_action.get(action, [])
        if len(candidates) == 1:
            return Lookup(candidates[0])
        if len(candidates) > 1:
            apps = sorted({a for c in candidates for a in self.products[c.product].apps})
            return Lookup(
                None,
                "app",
                f"action {action!r} exists in several products; "
                f"set app to one of: {', '.join(apps)}",
            )
        return Lookup(None, "action", self._unknown(action, list(self._by_action), None))

    @staticmethod
    def _unknown(action: str, known: list[str], product: str | None) -> str:
        where = f" in the {product} catalog" if product else ""
        close = difflib.get_close_matches(action, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown action {action!r}{where}{hint}"
