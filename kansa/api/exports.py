"""``GET /api/v1/exports/{name}``: download a layout's file, streamed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from kansa.api.search import ERRORS, LogQuery, log_query
from kansa.export.csv import Tally
from kansa.export.plan import Options
from kansa.http.exports import stream_export
from kansa.http.files import disposition
from kansa.http.readers import AnyReading, client_ip
from kansa.http.streaming import TrailingResponse

router = APIRouter(prefix="/api/v1", tags=["exports"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, streamed.",
        "content": {"text/csv": {}, "application/jsonl": {}},
    },
    **ERRORS,
}


@router.get("/exports/{name}", summary="Download a log file", responses=_RESPONSES)
async def export(
    request: Request,
    name: str,
    wanted: Annotated[LogQuery, Depends(log_query)],
    reading: AnyReading,
    tenant: str | None = None,  # read by the reading dependency; declared here for /docs
    format: str = "csv",
    encoding: str = "utf-8",
    newline: str = "crlf",
    lang: str | None = None,
) -> TrailingResponse:
    """The layout's file ``name`` (``events``, KDDI's ``access-log`` …) for the period, as CSV
    or JSON Lines. Administrators only (an API key with read scope or an admin viewer token),
    within the layout's export window. Filters apply where the layout allows them. Streamed;
    the download is recorded in the tenant's log once its last row is sent."""
    record = reading.tenant
    options = Options(format, encoding, newline, lang or record.lang)
    job = reading.export(name, wanted.asked(record), options)
    tally = Tally()
    body = stream_export(reading.runtime, job, tally, reading.reader, client_ip(request))
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
