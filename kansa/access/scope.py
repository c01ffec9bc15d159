"""The one place where a reader's request becomes a :class:`~kansa.events.query.Query` they are
entitled to: their tenant only, their own events only for a general user, the event types
their role may see for this purpose, and the layout's time window. Every endpoint that reads
events goes through :func:`scope`; none builds a Query itself.

kansa's own history (``access``: sign-ins to the console, detail views, downloads, retention
and holds) is returned only when a request names it: a request that names no history reads the
product's histories alone, so no product screen, filter, chart or file holds kansa's words."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from kansa.access.readers import Reader
from kansa.catalog import Catalog
from kansa.catalog.layout import DEFAULT_LAYOUT, Layout, Window
from kansa.errors import Forbidden, InvalidQuery, NotFound, Problem
from kansa.events.query import (
    MAX_LIMIT,
    SORTS,
    Cursor,
    Filters,
    Query,
    check_choice,
    label_ranks,
)
from kansa.events.stored import StoredEvent
from kansa.records import Tenant
from kansa.words import HISTORIES, LEVELS, PRODUCT_HISTORIES, Lang, Purpose, Role


@dataclass(frozen=True, slots=True)
class Asked:
    """What the request asked for, before any rule was applied."""

    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    filters: Filters = Filters()
    sort: str = "occurred_at"
    order: str = "desc"
    limit: int = 50
    cursor: str | None = None
    lang: Lang = "ja"
    """The reader's language: the sort ``label`` orders actions by their label in it."""
    own: bool = False
    """Only the reader's own events (自身のログイン履歴), whatever their role."""


PeriodFault = Literal["from_after_to", "future", "before_window"]


class PeriodRefused(InvalidQuery):
    """A period the rules of :func:`period` refuse; ``fault`` names the rule (the console
    words it in the reader's language), ``earliest`` is the window's first moment."""

    def __init__(
        self, fault: PeriodFault, problem: Problem, earliest: datetime | None = None
    ) -> None:
        super().__init__([problem])
        self.fault, self.earliest = fault, earliest


def tenant_for(reader: Reader, asked_tenant: str | None) -> str:
    """The tenant a request reads: the reader's own; another one is never allowed."""
    if reader.tenant is not None:
        if asked_tenant is not None and asked_tenant != reader.tenant:
            raise Forbidden(f"this reader may read only tenant {reader.tenant!r}")
        return reader.tenant
    if not asked_tenant:
        raise InvalidQuery([Problem("tenant", "is required for a key not bound to a tenant")])
    return asked_tenant


@lru_cache(maxsize=256)
def visible_types(
    catalog: Catalog, role: Role, purpose: Purpose
) -> frozenset[tuple[str, str]] | None:
    """The (product, action) pairs ``role`` may see for ``purpose``; None when all. A loaded
    catalog does not change, so each answer is worked out once per catalog."""
    pairs = set()
    every = set()
    for event_type in catalog.event_types():
        key = (event_type.product, event_type.action)
        every.add(key)
        audience = event_type.screen if purpose == "screen" else event_type.csv
        if role in audience:
            pairs.add(key)
    return None if pairs == every else frozenset(pairs)


def scope(
    reader: Reader,
    asked: Asked,
    *,
    tenant: Tenant | None,
    layout: Layout | None,
    catalog: Catalog,
    now: datetime,
    purpose: Purpose | None = None,
) -> Query:
    """Apply every access rule to ``asked``; refuse what the reader may not have."""
    tenant_id = tenant_for(reader, asked.tenant)
    if tenant is None or tenant.id != tenant_id:
        raise NotFound(f"no tenant {tenant_id!r}")
    purpose = purpose or reader.purpose
    layout = layout or DEFAULT_LAYOUT
    window = layout.window(purpose, reader.role)
    if window is None:
        what = "download the log" if purpose == "export" else "read the log"
        raise Forbidden(f"a {reader.role} may not {what} of this tenant")
    own = reader.role == "user" or asked.own
    if own and not reader.actor_id:
        raise Forbidden("a user reads only their own events, and this reader names no actor")
    tz = ZoneInfo(tenant.tz)
    since, until = period(asked.since, asked.until, window, now, tz)
    filters = asked.filters
    check_choice("history", filters.histories, HISTORIES)
    if not filters.histories:
        filters = replace(filters, histories=PRODUCT_HISTORIES)
    check_choice("level", filters.levels, LEVELS)
    if asked.sort not in SORTS:
        raise InvalidQuery([Problem("sort", f"must be one of: {', '.join(SORTS)}")])
    if asked.order not in ("asc", "desc"):
        raise InvalidQuery([Problem("order", "must be asc or desc")])
    if not 1 <= asked.limit <= MAX_LIMIT:
        raise InvalidQuery([Problem("limit", f"must be between 1 and {MAX_LIMIT}")])
    return Query(
        tenant=tenant_id,
        since=since,
        until=until,
        filters=filters,
        actor_id=reader.actor_id if own else None,
        visible=visible_types(catalog, reader.role, purpose),
        group_actions=_groups(catalog, filters.groups),
        sort=asked.sort,
        descending=asked.order == "desc",
        limit=asked.limit,
        after=Cursor.decode(asked.cursor) if asked.cursor else None,
        jobs=filters.histories == ("provisioning",),
        labels=labels_of(catalog, layout.product, asked.lang) if asked.sort == "label" else (),
    )


@lru_cache(maxsize=64)
def labels_of(catalog: Catalog, product: str, lang: Lang) -> tuple[tuple[str, str, int], ...]:
    """The ranks of the sort ``label``: every action of ``product`` (of every product when
    the catalog has no such product) and of kansa's own history, by label in ``lang``."""
    types = [
        t
        for t in catalog.event_types()
        if t.product == product or product not in catalog.products or t.history == "access"
    ]
    return tuple(label_ranks([((t.product, t.action), t.title(lang)) for t in types]))


def period(
    since: datetime | None,
    until: datetime | None,
    window: Window,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[datetime | None, datetime | None]:
    """The rule of a period, for the API, the console and the CLI alike: ``from`` before
    ``to``, ``to`` no later than the end of today in the tenant's zone ``tz``, ``from`` not
    before the ``window``'s first day (whole days in ``tz``: any day a date picker offers is
    allowed). No ``from`` means from the window's start."""
    earliest = window.start(now, tz)
    if since is not None and until is not None and since >= until:
        raise PeriodRefused("from_after_to", Problem("from", "is after to"))
    tomorrow = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tzinfo=tz)
    if until is not None and until > tomorrow:
        raise PeriodRefused("future", Problem("to", "is in the future"))
    if since is None or earliest is None or since >= earliest:
        return (since if since is not None else earliest), until
    allowed = f"{window.describe()}): from {earliest.isoformat()} to today"
    problem = Problem("from", f"is outside the allowed period ({allowed}")
    raise PeriodRefused("before_window", problem, earliest)


def _groups(catalog: Catalog, groups: tuple[str, ...]) -> frozenset[tuple[str, str]] | None:
    if not groups:
        return None
    return _group_types(catalog, groups)


@lru_cache(maxsize=256)
def _group_types(catalog: Catalog, groups: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    known = {g for p in catalog.products.values() for g in p.groups}
    for group in groups:
        if group not in known:
            raise InvalidQuery(
                [Problem("group", f"{group!r} is not one of: {', '.join(sorted(known))}")]
            )
    return frozenset((t.product, t.action) for t in catalog.event_types() if t.group in groups)


def permits(query: Query, event: StoredEvent) -> bool:
    """Whether one stored event is inside what ``query`` allows (for a detail view)."""
    if (event.get("tenant") or {}).get("id") != query.tenant:
        return False
    actor = event.get("actor")
    if query.actor_id is not None and (actor["id"] if actor else None) != query.actor_id:
        return False
    pair = (str(event.get("product")), str(event.get("action")))
    if query.visible is not None and pair not in query.visible:
        return False
    if query.since is not None:
        occurred = datetime.fromisoformat(str(event.get("occurred_at")).replace("Z", "+00:00"))
        if occurred < query.since:
            return False
    return True
