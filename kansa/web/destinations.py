"""The tenant administrator's view of streaming out: where the tenant's log is delivered,
whether each destination keeps up (lag in events and seconds), whether it is degraded or
paused, and its last error. Read-only: destinations are configured as code (the API, the
CLI). General users are refused."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from kansa.errors import Forbidden
from kansa.streaming.cursors import Cursor
from kansa.streaming.destinations import Destination
from kansa.timeutil import utcnow
from kansa.web.context import current
from kansa.web.render import page
from kansa.web.routing import router


def _rows(found: list[tuple[Destination, Cursor]]) -> list[dict[str, object]]:
    now = utcnow()
    return [
        {
            "name": d.name,
            "kind": d.kind,
            "scope": "operator" if d.tenant is None else "tenant",
            "state": "paused" if d.paused else "degraded" if c.degraded else "ok",
            "delivered_seq": c.delivered_seq,
            "head_seq": c.head_seq,
            "lag_events": c.lag_events,
            "lag_seconds": round(c.lag_seconds(now)),
            "last_error": c.last_error or "",
        }
        for d, c in found
    ]


@router.get("/destinations")
async def destinations(request: Request) -> Response:
    ctx = await current(request)
    if ctx.session.role != "admin":
        raise Forbidden("the log's destinations are for administrators")
    store, tenant = ctx.runtime.store, ctx.tenant.id

    def read() -> list[tuple[Destination, Cursor]]:
        found = []
        for destination in store.list_destinations():
            if destination.tenant not in (None, tenant):
                continue
            for cursor in store.cursors(destination.id, tenant):
                found.append((destination, cursor))
        return found

    rows = _rows(await ctx.runtime.read(read))
    return page(request, "destinations.html", ctx.lang, me=ctx, rows=rows)
