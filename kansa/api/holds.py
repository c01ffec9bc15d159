"""``/api/v1/tenants/{tenant}/legal-hold``: stop (and resume) purging a tenant's log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from kansa import retention
from kansa.api.search import ERRORS
from kansa.http.readers import HoldReading, KeyReading, client_ip
from kansa.http.responses import JSON
from kansa.records import Tenant
from kansa.timeutil import iso_utc

router = APIRouter(prefix="/api/v1", tags=["retention"])

Reason = Annotated[str, Field(min_length=1, max_length=500)]


class HoldRequest(BaseModel):
    reason: Reason


def _hold(tenant: Tenant) -> dict[str, object]:
    since = tenant.legal_hold_since
    return {
        "tenant": tenant.id,
        "held": tenant.legal_hold is not None,
        "reason": tenant.legal_hold,
        "since": iso_utc(since) if since else None,
    }


@router.get("/tenants/{tenant}/legal-hold", summary="Is the tenant under legal hold?")
async def legal_hold(reading: KeyReading, tenant: str) -> JSON:
    """Whether purging is stopped for the tenant, why, and since when."""
    # for a read key bound to the tenant or to none (KeyReading)
    return JSON(_hold(reading.tenant))


@router.post(
    "/tenants/{tenant}/legal-hold",
    status_code=201,
    summary="Place a legal hold: stop purging",
    responses=ERRORS,
)
async def place_legal_hold(
    request: Request, reading: HoldReading, tenant: str, body: HoldRequest
) -> JSON:
    """For an API key with ``hold`` scope: stop purging the tenant's log until the hold is
    released; recorded in the log as ``legal_hold.set``. Placing it again changes the reason
    (and is recorded again)."""
    runtime, who, record = reading.runtime, reading.reader, reading.tenant
    ip = client_ip(request)
    held = await runtime.read(
        lambda: retention.set_legal_hold(
            runtime.store, runtime.catalog, record.id, body.reason, who.actor(), ip=ip
        )
    )
    return JSON(_hold(held), status_code=201)


@router.delete("/tenants/{tenant}/legal-hold", summary="Release the legal hold", responses=ERRORS)
async def release_legal_hold(
    request: Request,
    reading: HoldReading,
    tenant: str,
    reason: Annotated[str, Query(min_length=1, max_length=500)],
) -> JSON:
    """For an API key with ``hold`` scope: let purging resume; recorded as
    ``legal_hold.release`` with ``reason``. 409 when the tenant is not under legal hold."""
    runtime, who, record = reading.runtime, reading.reader, reading.tenant
    ip = client_ip(request)
    released = await runtime.read(
        lambda: retention.set_legal_hold(
            runtime.store,
            runtime.catalog,
            record.id,
            None,
            who.actor(),
            ip=ip,
            release_reason=reason,
        )
    )
    return JSON(_hold(released))
