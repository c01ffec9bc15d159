"""``GET /api/v1/stream``: the pull twin of streaming out. A receiver that prefers to pull asks
for the events after the last seq it holds and gets them as one batch — the same JSON Lines
document, with the same proof fields, that a destination is pushed — and the address of the
next page in ``Link: rel="next"``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kansa.api.search import ERRORS
from kansa.errors import InvalidQuery, Problem
from kansa.http.readers import KeyReading
from kansa.streaming import stretch
from kansa.streaming.destinations import DEFAULT_BATCH, MAX_BATCH, Filter
from kansa.streaming.senders.webhook import CONTENT_TYPE
from kansa.timeutil import utcnow

router = APIRouter(prefix="/api/v1", tags=["streaming"])
MAX_SEQ = 2**63 - 1

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One batch: the proof line, the events as stored, the signed manifest.",
        "content": {CONTENT_TYPE: {}},
    },
    204: {"description": "Nothing after after_seq yet; ask again at the Link."},
    **ERRORS,
}


@router.get("/stream", summary="Pull the events after a seq, with proof", responses=_RESPONSES)
async def stream(
    reading: KeyReading,
    tenant: str | None = None,  # read by the reading dependency; declared here for /docs
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_BATCH)] = DEFAULT_BATCH,
) -> Response:
    """The tenant's events after ``after_seq`` in seq order, at most ``limit``, as one batch
    (see docs/streaming.md): a receiver proves with the public key that what it pulled is
    gap-free, in order and untampered (``kansa verify`` on a folder of saved responses). For
    an API key with ``read`` scope."""
    runtime, record = reading.runtime, reading.tenant
    if after_seq < record.chain_start_seq - 1:
        raise InvalidQuery(
            [
                Problem(
                    "after_seq",
                    f"must be at least {record.chain_start_seq - 1}: the events before seq "
                    f"{record.chain_start_seq} were purged",
                )
            ]
        )
    last = min(record.last_seq, after_seq + limit)
    if last <= after_seq:
        return Response(status_code=204, headers=_link(record.id, after_seq, limit))
    signer = runtime.signer()
    batch = await runtime.read(
        lambda: stretch.build(
            runtime.store,
            signer,
            destination=stretch.PULL,
            tenant=record.id,
            after=after_seq,
            last=last,
            filter=Filter(),
            now=utcnow(),
        )
    )
    headers = {
        **_link(record.id, last, limit),
        "Cache-Control": "no-store",
        "Kansa-First-Seq": str(batch.first_seq),
        "Kansa-Last-Seq": str(batch.last_seq),
    }
    return Response(batch.document(), media_type=CONTENT_TYPE, headers=headers)


def _link(tenant: str, after: int, limit: int) -> dict[str, str]:
    query = urlencode({"tenant": tenant, "after_seq": after, "limit": limit})
    return {"Link": f'</api/v1/stream?{query}>; rel="next"'}
