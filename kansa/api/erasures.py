"""``POST /api/v1/erasures``: erase one person's personal data from a tenant's log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from kansa import erasure
from kansa.access.readers import reader_of_key
from kansa.access.scope import tenant_for
from kansa.api.search import _PROBLEM, ERRORS
from kansa.http.readers import api_key, client_ip, runtime_of
from kansa.http.responses import JSON

router = APIRouter(prefix="/api/v1", tags=["retention"])


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: Annotated[str, Field(min_length=1, max_length=128)]
    actor: Annotated[
        str, Field(min_length=1, max_length=200, description="The id of the person to erase.")
    ]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.post(
    "/erasures",
    status_code=201,
    summary="Erase one person from a tenant's log",
    responses={
        **ERRORS,
        409: {
            "description": "The tenant is under legal hold (named), or does not verify.",
            **_PROBLEM,
        },
    },
)
async def erase(request: Request, body: ErasureRequest) -> JSON:
    """Remove the content of every event of the tenant in which ``actor`` is the actor or a
    target, keeping each event's place in the chain (it still verifies), and record
    ``privacy.erasure`` (who asked, the reason, how many events; never the erased values).
    Needs an API key with the ``admin`` scope. 409 under legal hold."""
    runtime = runtime_of(request)
    who = reader_of_key(await api_key(request), "admin")
    tenant = tenant_for(who, body.tenant)
    ip = client_ip(request)
    await runtime.read(lambda: runtime.tenant(tenant))  # 404 for an unknown tenant
    erased = await runtime.read(
        lambda: erasure.erase(
            runtime.store, runtime.catalog, tenant, body.actor, body.reason, who.actor(), ip=ip
        )
    )
    return JSON(
        {
            "tenant": tenant,
            "count": erased.count,
            "first_seq": erased.first_seq or None,
            "last_seq": erased.last_seq or None,
        },
        status_code=201,
    )
