"""The search form of a tab, as a :class:`~kansa.access.scope.Asked`: the same flow as the search
API (form → filters → :func:`~kansa.access.scope.scope` → the store), with the form's own
words. The access rules are not here, the period's neither: :func:`~kansa.access.scope.scope`
applies them all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kansa.access.scope import Asked
from kansa.catalog import Catalog, Product
from kansa.catalog.layout import Layout
from kansa.catalog.screens import Screen, Tab
from kansa.events.query import Filters, parse_q
from kansa.records import Tenant
from kansa.timeutil import EARLIEST_BOUND, LATEST_BOUND
from kansa.words import Lang, Role

PAGE_SIZE = 50
SINGLE = ("actor", "target", "service", "action", "group", "category", "module", "text")
MULTI = ("result", "level", "history")


class FormError(Exception):
    """A form value the console refuses, with the words (an i18n key) to say why."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


@dataclass(frozen=True, slots=True)
class Period:
    """What the 対象期間 may be, in the tenant's zone."""

    today: date
    earliest: datetime | None
    """The window's first moment; None without a limit."""
    default_since: date | None

    @property
    def earliest_day(self) -> date | None:
        return self.earliest.date() if self.earliest else None


@dataclass(frozen=True, slots=True)
class Form:
    """The search form as the reader filled it in (shown again as it was)."""

    since: str = ""
    until: str = ""
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = "occurred_at"
    order: str = "desc"
    cursor: str | None = None

    def one(self, kind: str) -> str:
        chosen = self.values.get(kind, ())
        return chosen[0] if chosen else ""

    def many(self, kind: str) -> tuple[str, ...]:
        return self.values.get(kind, ())


def period_of(layout: Layout, screen: Screen, role: Role, tenant: Tenant, now: datetime) -> Period:
    tz = ZoneInfo(tenant.tz)
    today = now.astimezone(tz).date()
    window = layout.window("screen", role)
    earliest = window.start(now, tz) if window is not None else None
    first = earliest.astimezone(tz).date() if earliest is not None else None
    default: date | None = first
    if screen.default_days:  # KDDI: one week (2020/07/09 ~ 2020/07/16), within the window
        default = today - timedelta(days=screen.default_days)
        default = max(default, first) if first else default
    return Period(today, earliest.astimezone(tz) if earliest else None, default)


def read_form(
    params: Mapping[str, Sequence[str]], period: Period, default_sort: str = "occurred_at"
) -> Form:
    """The form from the query string; a first visit gets the default period and order."""

    def first(name: str) -> str:
        values = params.get(name) or [""]
        return values[0].strip()[:200]

    values: dict[str, tuple[str, ...]] = {}
    for kind in SINGLE:
        if first(kind):
            values[kind] = (first(kind),)
    for kind in MULTI:
        chosen = tuple(v for v in params.get(kind) or [] if v)
        if chosen:
            values[kind] = chosen[:20]
    searched = "from" in params or "to" in params
    default_since = period.default_since.isoformat() if period.default_since else ""
    return Form(
        since=first("from") if searched else default_since,
        until=first("to") if searched else period.today.isoformat(),
        values=values,
        sort=first("sort") or default_sort,
        order=first("order") or "desc",
        cursor=first("cursor") or None,
    )


def asked_of(
    form: Form, tab: Tab, product: Product | None, catalog: Catalog, tz: str, lang: Lang
) -> Asked:
    """The form as asked; :func:`~kansa.access.scope.scope` applies the period rule."""
    since, until = _bounds(form, ZoneInfo(tz))
    return Asked(
        since=since,
        until=until,
        filters=filters_of(form, tab, product, catalog),
        sort=form.sort,
        order=form.order,
        limit=PAGE_SIZE,
        cursor=form.cursor,
        lang=lang,
    )


def filters_of(form: Form, tab: Tab, product: Product | None, catalog: Catalog) -> Filters:
    actions: tuple[str, ...] = (form.one("action"),) if form.one("action") else ()
    module = form.one("module")
    nothing = False
    logged_by: tuple[tuple[str, str], ...] = ()
    if module and product is not None:
        in_module = tuple(
            a for a, t in product.events.items() if module in (t.modules or (t.module,))
        )
        nothing = not in_module or (bool(actions) and not set(actions) & set(in_module))
        actions = tuple(a for a in actions if a in in_module) or in_module
        logged_by = tuple((a, module) for a in actions if product.events[a].modules)
        actions = tuple(a for a in actions if not product.events[a].modules)
    filters = Filters(
        logged_by=logged_by,
        histories=(tab.history,) if tab.history else form.many("history"),
        categories=(form.one("category"),) if form.one("category") else (),
        actions=actions,
        groups=(form.one("group"),) if form.one("group") else (),
        results=form.many("result"),
        levels=form.many("level"),
        actor=form.one("actor") or None,
        target=form.one("target") or None,
        service=form.one("service") or None,
        nothing=nothing,
    )
    text = form.one("text")
    return filters.merge(parse_q(text)) if text else filters


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise FormError("error.bad_date") from None
    if not EARLIEST_BOUND.date() <= day <= LATEST_BOUND.date() - timedelta(days=1):
        raise FormError("error.bad_date")
    return day


def _bounds(form: Form, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The form's days as moments: from the first day's start to the last day's end."""
    first, last = _day(form.since), _day(form.until)
    since = datetime.combine(first, time(0), tzinfo=tz) if first else None
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz) if last else None
    return since, until
