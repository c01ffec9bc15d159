"""CSV downloads from the console: the layout's files (KDDI's access-log / operation-log /
provisioning-log, microCMS's and Garoon's audit-log, PCA ID's events), for a period, built by
:func:`kansa.export.plan.plan` exactly as ``GET /api/v1/exports/{name}`` builds them — with
the console session as the reader. Recorded in the tenant's log (``log.export``) once the
last row is sent."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from kansa.access.scope import Asked
from kansa.errors import InvalidInput, Problem
from kansa.export.csv import Tally
from kansa.export.plan import Options
from kansa.http.exports import stream_export
from kansa.http.files import disposition
from kansa.http.readers import client_ip
from kansa.timeutil import parse_period_bound
from kansa.web.auth import form_of
from kansa.web.context import Context, current
from kansa.web.routing import router
from kansa.web.session import same


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
    reading = ctx.reading
    job = reading.export(name, asked, Options(lang=ctx.lang))
    return StreamingResponse(
        stream_export(reading.runtime, job, Tally(), reading.reader, client_ip(request)),
        media_type=job.media_type,
        headers={"Content-Disposition": disposition(job.filename)},
    )
