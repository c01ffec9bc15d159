"""``GET /api/v1/exports/{name}``: download a layout's file, streamed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request

from kansa.access.readers import Reader
from kansa.access.scope import tenant_for
from kansa.api.search import ERRORS, LogQuery, log_query
from kansa.export.csv import Tally
from kansa.export.plan import Export, Options, plan
from kansa.http.readers import client_ip, reader
from kansa.http.streaming import TrailingResponse, threaded
from kansa.server.runtime import Runtime
from kansa.timeutil import utcnow

router = APIRouter(prefix="/api/v1", tags=["exports"])

EXPORT_THREADS = 3
"""Exports streaming at once per process; more wait for a free thread."""
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, streamed.",
        "content": {"text/csv": {}, "application/jsonl": {}},
    },
    **ERRORS,
}
_background: set[asyncio.Task[Any]] = set()


@router.get("/exports/{name}", summary="Download a log file", responses=_RESPONSES)
async def export(
    request: Request,
    name: str,
    wanted: Annotated[LogQuery, Depends(log_query)],
    tenant: str | None = None,
    format: str = "csv",
    encoding: str = "utf-8",
    newline: str = "crlf",
    lang: str | None = None,
) -> TrailingResponse:
    """The layout's file ``name`` (``events``, KDDI's ``access-log`` …) for the period, as CSV
    or JSON Lines. Administrators only (an API key with read scope or an admin viewer token),
    within the layout's export window. Filters apply where the layout allows them. Streamed;
    the download is recorded in the tenant's log once its last row is sent."""
    runtime: Runtime = request.app.state.kansa
    who = reader(request)
    record = runtime.tenant(tenant_for(who, tenant))
    asked = wanted.asked(record)
    options = Options(format, encoding, newline, lang or record.lang)
    job = plan(
        who,
        asked,
        name=name,
        tenant=record,
        layout=runtime.layout_of(record),
        catalog=runtime.catalog,
        now=utcnow(),
        options=options,
    )
    tally = Tally()
    body = _stream(request, runtime, job, tally, who, client_ip(request))
    return TrailingResponse(
        body,
        trailers=lambda: {
            "X-Kansa-Rows": str(tally.rows),
            "X-Kansa-Unmappable": str(tally.unmappable),
        },
        trailer_names=("X-Kansa-Rows", "X-Kansa-Unmappable"),
        headers={
            "Content-Disposition": disposition(job.filename),
            "Cache-Control": "no-store",
            "X-Kansa-Period": job.interval,
        },
        media_type=job.media_type,
    )


async def _stream(
    request: Request, runtime: Runtime, job: Export, tally: Tally, who: Reader, ip: str | None
) -> AsyncIterator[bytes]:
    """The file's chunks; after the last one, the download is recorded. A download cut short
    is recorded too, with the rows sent so far and ``interrupted``."""
    pool = _threads(request)
    complete = False
    try:
        produce = threaded(
            lambda: job.chunks(runtime.store, runtime.catalog, tally, runtime.signer), pool
        )
        async with aclosing(produce) as chunks:
            async for chunk in chunks:
                yield chunk
        complete = True
        await runtime.record(who, job.tenant.id, "log.export", job.record(tally), ip)
    finally:
        if not complete:
            task = asyncio.get_running_loop().create_task(
                runtime.record(who, job.tenant.id, "log.export", job.record(tally, False), ip)
            )
            _background.add(task)
            task.add_done_callback(_background.discard)


def _threads(request: Request) -> ThreadPoolExecutor:
    """The app's export threads (made on first use; reused, so a thread's store connection is
    too)."""
    state = request.app.state
    pool: ThreadPoolExecutor | None = getattr(state, "export_threads", None)
    if pool is None:
        pool = ThreadPoolExecutor(EXPORT_THREADS, thread_name_prefix="kansa-export")
        state.export_threads = pool
    return pool


def disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the exact ``filename*`` (RFC 6266)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
