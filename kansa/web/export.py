"""CSV downloads from the console: the layout's files (KDDI's access-log / operation-log /
provisioning-log, microCMS's and Garoon's audit-log, PCA ID's events), for a period, built by
:func:`kansa.export.plan.plan` exactly as ``GET /api/v1/exports/{name}`` builds them — with
the console session as the reader. Recorded in the tenant's log (``log.export``) once the
last row is sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from kansa.access.scope import Asked
from kansa.api.exports import disposition
from kansa.errors import InvalidInput, Problem
from kansa.export.csv import Tally
from kansa.export.plan import Export, Options, plan
from kansa.http.readers import client_ip
from kansa.http.streaming import threaded
from kansa.timeutil import parse_period_bound, utcnow
from kansa.web.auth import form_of
from kansa.web.context import Context, current
from kansa.web.routing import router
from kansa.web.session import same

_POOL = ThreadPoolExecutor(2, thread_name_prefix="kansa-console-export")
_background: set[asyncio.Task[Any]] = set()


def can_export(ctx: Context, name: str | None) -> bool:
    """Whether this reader may download ``name`` at all (a general user never may)."""
    return (
        name is not None
        and ctx.layout.window("export", ctx.session.role) is not None
        and ctx.layout.export(name) is not None
    )


@router.post("/export/{name}")
async def export_file(request: Request, name: str) -> Response:
    ctx = await current(request)
    form = await form_of(request)
    if not same(ctx.session.csrf, form.get("csrf")):
        raise InvalidInput([Problem("csrf", "the form has expired; send it again")])
    tz = ctx.tenant.tz
    since, until = form.get("from", "").strip(), form.get("to", "").strip()
    asked = Asked(
        tenant=ctx.tenant.id,
        since=parse_period_bound(since, tz, "from") if since else None,
        until=parse_period_bound(until, tz, "to", end=True) if until else None,
    )
    job = plan(
        ctx.reader,
        asked,
        name=name,
        tenant=ctx.tenant,
        layout=ctx.layout,
        catalog=ctx.runtime.catalog,
        now=utcnow(),
        options=Options(lang=ctx.lang),
    )
    return StreamingResponse(
        _stream(ctx, job, client_ip(request)),
        media_type=job.media_type,
        headers={"Content-Disposition": disposition(job.filename)},
    )


async def _stream(ctx: Context, job: Export, ip: str | None) -> AsyncIterator[bytes]:
    runtime = ctx.runtime
    tally = Tally()
    complete = False
    try:
        async for chunk in threaded(
            lambda: job.chunks(runtime.store, runtime.catalog, tally), _POOL
        ):
            yield chunk
        complete = True
        await runtime.record(ctx.reader, ctx.tenant.id, "log.export", job.record(tally), ip)
    finally:
        if not complete:  # cut short: record what was sent, without holding the response
            task = asyncio.get_running_loop().create_task(
                runtime.record(
                    ctx.reader, ctx.tenant.id, "log.export", job.record(tally, False), ip
                )
            )
            _background.add(task)
            task.add_done_callback(_background.discard)
