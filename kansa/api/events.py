"""``/api/v1/events``: publishing events."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel

from kansa.access import check_publish, require_scope
from kansa.api.errors import HTTPProblem
from kansa.api.responses import JSON
from kansa.errors import InvalidInput, Problem
from kansa.events import EventIn, prepare
from kansa.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["events"])


class ReceiptOut(BaseModel):
    id: str
    client_id: str | None
    tenant: str
    seq: int
    hash: str
    duplicate: bool


class PublishReply(BaseModel):
    accepted: int
    duplicates: int
    events: list[ReceiptOut]


class Batch(BaseModel):
    events: list[EventIn]


_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}

PUBLISH_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/EventIn"},
                        {"$ref": "#/components/schemas/Batch"},
                    ]
                }
            }
        },
    },
}


@router.post(
    "/events",
    status_code=201,
    response_model=PublishReply,
    summary="Publish one event or a batch",
    openapi_extra=PUBLISH_DOC,
    responses={
        200: {"model": PublishReply, "description": "Every event was a duplicate."},
        400: {"description": "The body is not valid JSON.", **_PROBLEM},
        401: {"description": "Missing or unknown API key.", **_PROBLEM},
        403: {
            "description": "Key lacks publish scope or is bound to another tenant.",
            **_PROBLEM,
        },
        413: {"description": "The body is larger than the limit.", **_PROBLEM},
        415: {"description": "The body is not JSON.", **_PROBLEM},
        422: {"description": "Invalid events; nothing was stored.", **_PROBLEM},
    },
)
async def publish(request: Request) -> JSON:
    """Store one event, or ``{"events": [...]}``. Every event is checked against the schema
    and the catalog first; if any is invalid nothing is stored and every problem is listed
    with its path. The reply is sent after the commit. An event whose ``id`` was stored
    before for the same tenant is not stored again: its original receipt comes back with
    ``duplicate: true``."""
    runtime: Runtime = request.app.state.kansa
    key = runtime.keys.authenticate(request.headers.get("authorization"))
    require_scope(key, "publish")
    payload = _json(await _body(request, runtime.settings.max_body_bytes), request)
    items, single = _items(payload, runtime.settings.max_batch)
    events = prepare(items, runtime.catalog, default_app=key.app, single=single)
    check_publish(key, events, single)
    receipts = await runtime.writer.append(events)
    duplicates = sum(1 for r in receipts if r.duplicate)
    reply = {
        "accepted": len(receipts) - duplicates,
        "duplicates": duplicates,
        "events": [r.as_dict() for r in receipts],
    }
    return JSON(reply, status_code=201 if duplicates < len(receipts) else 200)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPProblem(413, "Payload too large", [_too_large(limit)])
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPProblem(413, "Payload too large", [_too_large(limit)])
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> Problem:
    return Problem("body", f"the body is larger than {limit} bytes; send smaller batches")


def _json(body: bytes, request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPProblem(
            415,
            "Unsupported media type",
            [Problem("content-type", f"expected application/json, got {media or 'nothing'}")],
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPProblem(
            400, "Invalid JSON", [Problem("body", f"not valid JSON: {exc}")]
        ) from None


def _items(payload: Any, max_batch: int) -> tuple[list[Any], bool]:
    if not isinstance(payload, dict):
        raise InvalidInput([Problem("body", 'expected an event object or {"events": [...]}')])
    if "events" not in payload:
        return [payload], True
    extra = sorted(set(payload) - {"events"})
    if extra:
        raise InvalidInput([Problem(extra[0], 'a batch holds only "events"')])
    items = payload["events"]
    if not isinstance(items, list):
        raise InvalidInput([Problem("events", "must be a list of events")])
    if not items:
        raise InvalidInput([Problem("events", "must hold at least one event")])
    if len(items) > max_batch:
        raise InvalidInput(
            [Problem("events", f"holds {len(items)} events; at most {max_batch} per request")]
        )
    return items, False
