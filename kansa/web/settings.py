"""``/console/settings``: what a tenant administrator may know of how their log is kept — the
days each history is kept (and whether that is the product's default or the tenant's own),
the legal hold, and the erasures and holds recorded. Read only: changes are the operator's
(``kansa tenant update --retention``, ``kansa hold``, ``kansa erase``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from kansa import retention
from kansa.catalog.columns import local_time
from kansa.errors import Forbidden
from kansa.events.present import HISTORY_LABELS, present
from kansa.events.query import Filters, Query
from kansa.events.stored import PresentedEvent
from kansa.web.context import current
from kansa.web.render import page
from kansa.web.routing import router

RECORDED = ("privacy.erasure", "legal_hold.set", "legal_hold.release", "retention.set")
"""kansa's own events about keeping the log that the page lists, newest first."""
SHOWN = 50


@dataclass(frozen=True, slots=True)
class Kept:
    history: str
    days: int | None
    """None: kept for ever."""
    own: bool
    """The tenant's own setting, not the product's default."""


@router.get("/settings")
async def settings_page(request: Request) -> Response:
    ctx = await current(request)
    if ctx.session.role != "admin":
        raise Forbidden("the settings are for the tenant's administrators")
    runtime, tenant = ctx.runtime, ctx.tenant
    days = retention.effective(tenant, runtime.catalog)
    kept = [
        Kept(HISTORY_LABELS[h].get(ctx.lang), d, h in tenant.retention) for h, d in days.items()
    ]
    query = Query(tenant=tenant.id, filters=Filters(actions=RECORDED), limit=SHOWN)
    found = await runtime.read(lambda: runtime.store.search(query))
    recorded: list[PresentedEvent] = [present(e, runtime.catalog, ctx.lang) for e in found.events]
    return page(
        request,
        "settings.html",
        ctx.lang,
        me=ctx,
        kept=kept,
        hold=tenant.legal_hold,
        hold_since=local_time(tenant.legal_hold_since.isoformat(), tenant.tz)
        if tenant.legal_hold_since
        else "",
        recorded=recorded,
        tz=tenant.tz,
        local_time=local_time,
    )
