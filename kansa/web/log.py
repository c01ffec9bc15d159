"""The log screen: the tenant's layout's tabs, a search form per tab, a chart of the
period, a sortable table with cursor pages, and the column chooser."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from itertools import islice
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from kansa.access.scope import PeriodRefused
from kansa.catalog.columns import Cell, cell, failed
from kansa.catalog.screens import Tab
from kansa.errors import Forbidden, InvalidInput, InvalidQuery, NotFound, Problem
from kansa.events.present import present
from kansa.events.query import Query
from kansa.events.terms import matched_by
from kansa.http.readers import client_ip
from kansa.store.base import Store
from kansa.store.search import Page
from kansa.timeutil import utcnow
from kansa.web import chart as charts
from kansa.web.auth import form_lists
from kansa.web.context import Context, current
from kansa.web.export import can_export
from kansa.web.i18n import translate
from kansa.web.options import ColumnChoice, available_columns, columns_for, form_choices, tabs_for
from kansa.web.render import page, set_cookie
from kansa.web.routing import router
from kansa.web.search import Form, FormError, Period, asked_of, period_of, read_form
from kansa.web.session import same

log = logging.getLogger("kansa.web")

CHART_CAP = 20_000
"""Most events read to draw the chart; beyond it the chart says it is partial."""
COLUMN_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    href: str
    level: str
    cells: list[tuple[ColumnChoice, Cell]]
    removed: str | None = None
    """For a pruned event: what became of it, in the reader's language (no detail to open)."""


@dataclass(frozen=True, slots=True)
class Found:
    page: Page
    chart: charts.Chart
    capped: bool
    scanned: list[str]
    """The free-text terms too short for the index, read across the period (said so)."""


def columns_cookie(ctx: Context, tab: Tab) -> str:
    """The cookie holding one account's chosen columns of one tab."""
    who = f"{ctx.tenant.id}\x00{ctx.session.kind}\x00{ctx.session.actor_id}\x00{tab.id}"
    return "kansa_cols_" + hashlib.sha256(who.encode()).hexdigest()[:16]


def _chosen(request: Request, ctx: Context, tab: Tab) -> list[str] | None:
    raw = request.cookies.get(columns_cookie(ctx, tab))
    return [c for c in raw.split(",") if c][:40] if raw else None


LOG, OWN = "/console/log", "/console/own"
"""The log screen, and the reader's own login history (自身のログイン履歴)."""


def _tab(request: Request, ctx: Context) -> tuple[Tab, list[Tab]]:
    tabs = tabs_for(ctx.screen.tabs, ctx.runtime.catalog, ctx.session.role, ctx.layout.product)
    asked = request.query_params.get("tab")
    tab = next((t for t in tabs if t.id == asked), tabs[0] if tabs else ctx.screen.tabs[0])
    return tab, tabs


def _own_tab(ctx: Context) -> Tab:
    """The tab of the reader's own login history: the screen's first login tab."""
    tab = ctx.screen.login_tab()
    if tab is None:
        raise NotFound("this log has no login history to show a reader their own")
    return tab


def _default_sort(tab: Tab) -> str:
    """Newest first by the time the tab shows: a job's start where its 日時 is (KDDI 4.1)."""
    return "started_at" if any(c.field == "started_at" for c in tab.columns) else "occurred_at"


def href(tab: Tab, form: Form, base: str = LOG, **changes: str | None) -> str:
    """The screen at ``base`` for ``tab`` with ``form``'s values and ``changes``."""
    pairs: list[tuple[str, str]] = [("tab", tab.id), ("from", form.since), ("to", form.until)]
    for kind, values in form.values.items():
        pairs.extend((kind, v) for v in values)
    pairs += [("sort", form.sort), ("order", form.order)]
    if form.cursor:
        pairs.append(("cursor", form.cursor))
    drop = set(changes)
    pairs = [(k, v) for k, v in pairs if k not in drop]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    return f"{base}?" + urlencode(pairs)


def _with_starts(store: Store, tenant: str, found: Page) -> Page:
    """Each job's row with the time its job began (its first state), as ``job.started_at``."""
    for event in found.events:
        job = event.get("correlation_id")
        states = store.job_states(tenant, job) if job else []
        if states:
            event["job"] = {"started_at": states[0]["occurred_at"]}  # type: ignore[typeddict-unknown-key]
    return found


async def _search(ctx: Context, tab: Tab, query: Query, period: Period) -> Found:
    runtime = ctx.runtime
    query = replace(query, placeholders=True)  # a pruned event in the window: said so
    found = await runtime.read(lambda: runtime.store.search(query))
    whole = replace(query, sort="occurred_at", descending=False, after=None)

    def moments() -> list[tuple[str, str, bool]]:
        stream = runtime.store.stream(whole)
        return [
            (e["occurred_at"], e["level"], failed(e["result"]))
            for e in islice(stream, CHART_CAP + 1)
        ]

    points = await runtime.read(moments)
    if any(c.field == "started_at" for c in tab.columns):
        found = await runtime.read(lambda: _with_starts(runtime.store, query.tenant, found))
    first = query.since.astimezone(ZoneInfo(ctx.tenant.tz)).date() if query.since else None
    drawn = charts.build(points[:CHART_CAP], first, period.today, ctx.tenant.tz)
    scanned = [term for term, by in matched_by(query.filters.text) if by == "scan"]
    return Found(found, drawn, len(points) > CHART_CAP, scanned)


@router.get("/log")
async def log_screen(request: Request) -> Response:
    ctx = await current(request)
    tab, tabs = _tab(request, ctx)
    return await _screen(request, ctx, tab, tabs, LOG)


@router.get("/own")
async def own_screen(request: Request) -> Response:
    """自身のログイン履歴: the reader's own login history, whatever their role (the user
    menu opens it)."""
    ctx = await current(request)
    tab = _own_tab(ctx)
    return await _screen(request, ctx, tab, [tab], OWN)


async def _screen(request: Request, ctx: Context, tab: Tab, tabs: list[Tab], base: str) -> Response:
    runtime, lang = ctx.runtime, ctx.lang
    own = base == OWN
    now = utcnow()
    period = period_of(ctx.layout, ctx.screen, ctx.session.role, ctx.tenant, now)
    params = {k: request.query_params.getlist(k) for k in request.query_params}
    form = read_form(params, period, _default_sort(tab))
    product = runtime.catalog.products.get(ctx.layout.product)
    error: tuple[str, dict[str, object]] | None = None
    found: Found | None = None
    try:
        asked = replace(asked_of(form, tab, product, runtime.catalog, ctx.tenant.tz, lang), own=own)
        found = await _search(ctx, tab, ctx.reading.scope(asked, now), period)
    except FormError as exc:
        error = (exc.key, exc.values)
    except PeriodRefused as exc:
        error = (f"error.{exc.fault}", _start(exc.earliest, ctx.tenant.tz))
    except InvalidQuery as exc:  # the query language's own words help only in English
        log.info("console search refused: %s", exc)
        error = ("error.query", {"detail": str(exc) if lang == "en" else ""})
    if found is not None and ctx.tenant.record_searches:
        await runtime.record(ctx.reader, ctx.tenant.id, "log.search", {}, client_ip(request))
    columns = columns_for(tab, product, lang, _chosen(request, ctx, tab))
    rows = _rows(ctx, found, columns)
    next_cursor = found.page.next_cursor if found else None
    return page(
        request,
        "log.html",
        lang,
        me=ctx,
        tab=tab,
        tabs=tabs,
        form=form,
        period=period,
        choices=form_choices(tab, product, runtime.catalog, ctx.session.role, lang),
        columns=columns,
        rows=rows,
        found=found,
        error=error,
        href=partial(href, base=base),
        base=base,
        own=own,
        next_href=href(tab, form, base, cursor=next_cursor.encode()) if next_cursor else None,
        first_href=href(tab, form, base, cursor=None) if form.cursor else None,
        download=None if own else _download(ctx, tab, form, now),
    )


@router.get("/download")
async def download_form(request: Request) -> Response:
    """The download of a tab's file for a period, as a dialog (``?fragment=1``) or a page:
    how microCMS's screen offers it."""
    ctx = await current(request)
    tab, _ = _tab(request, ctx)
    now = utcnow()
    period = period_of(ctx.layout, ctx.screen, ctx.session.role, ctx.tenant, now)
    params = {k: request.query_params.getlist(k) for k in request.query_params}
    download = _download(ctx, tab, read_form(params, period, _default_sort(tab)), now)
    if download is None:
        raise Forbidden(f"a {ctx.session.role} may not download the file of this tab")
    fragment = bool(request.query_params.get("fragment"))
    return page(
        request,
        "download_dialog.html" if fragment else "download.html",
        ctx.lang,
        me=ctx,
        tab=tab,
        download=download,
        in_dialog=fragment,
        back=f"{LOG}?{urlencode({'tab': tab.id})}",
    )


def _start(earliest: datetime | None, tz: str) -> dict[str, object]:
    return {"start": f"{earliest.astimezone(ZoneInfo(tz)):%Y/%m/%d}"} if earliest else {}


def _download(ctx: Context, tab: Tab, form: Form, now: datetime) -> dict[str, str] | None:
    """The download form of ``tab``: its file and period (the search's, within the export
    window); None when this reader may not download it."""
    if not can_export(ctx, tab.export):
        return None
    window = ctx.layout.window("export", ctx.session.role)
    tz = ZoneInfo(ctx.tenant.tz)
    start = window.start(now, tz) if window else None
    earliest = start.astimezone(tz).date().isoformat() if start else ""
    today = now.astimezone(tz).date().isoformat()
    screen = ctx.layout.window("screen", ctx.session.role)
    if window is not None and start is not None and window.covers_more_than(screen, now, tz):
        # PCA ID: files cover 2 years though the screen shows 7 days; the form offers them all
        longer = translate(ctx.lang, "download.longer", start=f"{start:%Y/%m/%d}")
        return _download_form(tab, earliest, today, earliest, today, longer)
    since = max(form.since, earliest) if form.since and earliest else form.since or earliest
    return _download_form(tab, since, form.until or today, earliest, today, "")


def _download_form(
    tab: Tab, since: str, until: str, earliest: str, today: str, longer: str
) -> dict[str, str]:
    return {
        "action": f"/console/export/{tab.export}",
        "from": since,
        "to": until,
        "min": earliest,
        "max": today,
        "longer": longer,
    }


def _rows(ctx: Context, found: Found | None, columns: list[ColumnChoice]) -> list[Row]:
    if found is None:
        return []
    rows = []
    for event in found.page.events:
        shown = present(event, ctx.runtime.catalog, ctx.lang, tz=ctx.tenant.tz)
        cells = [(c, cell(shown, c.key, ctx.runtime.catalog, ctx.tenant.tz)) for c in columns]
        removed = shown["message"] if event.get("pruned") else None
        href = f"/console/events/{shown['id']}"
        rows.append(Row(str(shown["id"]), href, str(shown["level"]), cells, removed))
    return rows


@router.get("/columns")
async def columns_form(request: Request) -> Response:
    ctx = await current(request)
    tab, _ = _tab(request, ctx)
    product = ctx.runtime.catalog.products.get(ctx.layout.product)
    shown = columns_for(tab, product, ctx.lang, _chosen(request, ctx, tab))
    template = "columns_dialog.html" if request.query_params.get("fragment") else "columns.html"
    return page(
        request,
        template,
        ctx.lang,
        me=ctx,
        tab=tab,
        available=list(available_columns(tab, product, ctx.lang).values()),
        shown={c.key for c in shown},
        back=request.query_params.get("back", ""),
    )


@router.post("/columns")
async def columns_save(request: Request) -> Response:
    ctx = await current(request)
    fields = await form_lists(request)
    if not same(ctx.session.csrf, (fields.get("csrf") or [""])[0]):
        raise InvalidInput([Problem("csrf", "the form has expired; send it again")])
    tab, _ = _tab(request, ctx)
    product = ctx.runtime.catalog.products.get(ctx.layout.product)
    available = available_columns(tab, product, ctx.lang)
    picked = [c for c in fields.get("column", []) if c in available]
    back = (fields.get("back") or [""])[0]
    target = back if back.startswith((f"{LOG}?", f"{OWN}?")) else f"{LOG}?tab={tab.id}"
    response = RedirectResponse(target, status_code=303)
    name = columns_cookie(ctx, tab)
    if picked and (fields.get("reset") or [""])[0] != "1":
        set_cookie(request, response, name, ",".join(picked), COLUMN_SECONDS)
    else:
        response.delete_cookie(name, path="/console")
    return response
