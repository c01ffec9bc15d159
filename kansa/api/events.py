"""``/api/v1/events``: publishing events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kansa.access.readers import check_publish, require_scope
from kansa.errors import InvalidInput, Problem
from kansa.events.prepare import EventIn, PreparedEvent, exact_json, prepare
from kansa.events.regions import check_regions, region_bound
from kansa.http.problems import HTTPProblem
from kansa.http.readers import api_key
from kansa.http.responses import JSON
from kansa.records import ApiKey
from kansa.server.runtime import Runtime
from kansa.tenants import check_not_retired

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
        400: {"description": "The body is not valid JSON."},
        401: {"description": "Missing or unknown API key."},
        403: {"description": "Key lacks publish scope or is bound to another tenant."},
        413: {"description": "The body is larger than KANSA_MAX_BODY_BYTES."},
        415: {"description": "The body is not JSON."},
        422: {
            "description": "Invalid events (an event type outside its tenant's region"
            " among them), or a batch empty or too large; nothing stored."
        },
        429: {"description": "Too many requests for this key: wait as long as Retry-After says."},
    },
)
async def publish(request: Request) -> JSON:
    """Store one event, or ``{"events": [...]}``. Every event is checked against the schema
    and the catalog first; if any is invalid nothing is stored and every problem is listed
    with its path. The reply is sent after the commit. An event whose ``id`` was stored
    before for the same tenant is not stored again: its original receipt comes back with
    ``duplicate: true``."""
    content_type = request.headers.get("content-type", "")
    key = await api_key(request)
    return await accept(request.app.state.kansa, key, request.body, content_type)


async def accept(
    runtime: Runtime, key: ApiKey, body: Callable[[], Awaitable[bytes]], content_type: str
) -> JSON:
    """Every check of a publish and its answer, whoever serves the request: the route above
    and :mod:`kansa.server.publishing` (which serves it without FastAPI's machinery). ``key``
    is the request's checked key; ``body`` reads the body (at most KANSA_MAX_BODY_BYTES,
    which the caller enforces) once the key may publish."""
    require_scope(key, "publish")
    payload = _json(await body(), content_type)
    items, single = _items(payload, runtime.settings.max_batch)
    events = prepare(items, runtime.catalog, default_app=key.app, single=single)
    check_publish(key, events, single)
    check_not_retired([e.tenant_id for e in events], await runtime.retired_tenants(), single)
    if not runtime.settings.create_tenants:
        await runtime.read(lambda: _known_tenants(runtime, events, single))
    if region_bound(events, runtime.catalog):
        await runtime.read(
            lambda: check_regions(events, runtime.catalog, _region_of(runtime), single)
        )
    receipts = await runtime.writer.append(events)
    duplicates = sum(1 for r in receipts if r.duplicate)
    runtime.metrics.events_accepted.inc(len(receipts) - duplicates)
    runtime.metrics.events_duplicate.inc(duplicates)
    reply = {
        "accepted": len(receipts) - duplicates,
        "duplicates": duplicates,
        "events": [r.as_dict() for r in receipts],
    }
    return JSON(reply, status_code=201 if duplicates < len(receipts) else 200)


def _region_of(runtime: Runtime) -> Callable[[str], str | None]:
    def region(tenant_id: str) -> str | None:
        tenant = runtime.store.get_tenant(tenant_id)
        return tenant.region if tenant else None

    return region


def _known_tenants(runtime: Runtime, events: list[PreparedEvent], single: bool) -> None:
    """With ``KANSA_CREATE_TENANTS=false``: every event's tenant was created beforehand (a
    tenant is never deleted, so it is still there when the events are appended)."""
    known: dict[str, bool] = {}
    problems = []
    for index, event in enumerate(events):
        tenant = event.tenant_id
        if tenant not in known:
            known[tenant] = runtime.store.get_tenant(tenant) is not None
        if not known[tenant]:
            where = "tenant.id" if single else f"events[{index}].tenant.id"
            message = f"unknown tenant {tenant!r}: tenants are created beforehand here"
            problems.append(Problem(where, message))
    if problems:
        raise InvalidInput(problems)


def _json(body: bytes, content_type: str) -> Any:
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPProblem(
            415,
            "Unsupported media type",
            [Problem("content-type", f"expected application/json, got {media or 'nothing'}")],
        )
    try:
        return exact_json(body)
    except ValueError as exc:  # orjson's and the standard parser's errors alike
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
