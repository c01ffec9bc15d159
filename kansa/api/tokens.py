"""``POST /api/v1/viewer-tokens``: a host product lets one of its users read kansa."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from kansa.access import tokens
from kansa.api.search import ERRORS
from kansa.http.readers import Reading, key_reader, reading_of
from kansa.http.responses import JSON
from kansa.timeutil import from_micros, iso_utc, utcnow
from kansa.words import Role

router = APIRouter(prefix="/api/v1", tags=["viewer tokens"])


class TokenActor(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=500)


class TokenRequest(BaseModel):
    tenant: str | None = Field(default=None, description="Defaults to the key's tenant.")
    actor: TokenActor
    role: Role = "user"
    ttl_seconds: int = Field(default=tokens.DEFAULT_TTL, ge=1, le=tokens.MAX_TTL)


class TokenReply(BaseModel):
    token: str
    expires_at: str
    tenant: str
    role: str


async def _body_reading(request: Request, body: TokenRequest) -> Reading:
    """A key with ``mint`` scope, and the tenant the body names (or the key's own)."""
    return await reading_of(request, await key_reader(request, "mint"), body.tenant)


@router.post(
    "/viewer-tokens",
    status_code=201,
    response_model=TokenReply,
    summary="Mint a short-lived viewer token",
    responses=ERRORS,
)
async def viewer_token(
    body: TokenRequest, reading: Annotated[Reading, Depends(_body_reading)]
) -> JSON:
    """For an API key with ``mint`` scope: a signed token (at most 1 hour, default 10
    minutes) that lets one person — ``actor`` with ``role`` admin or user — read the
    tenant's log, as a Bearer token on this API or through ``/console/enter?token=…``."""
    tenant = reading.tenant
    minted = tokens.mint(
        reading.runtime.secret_key(),
        tenant=tenant.id,
        actor_id=body.actor.id,
        name=body.actor.name or body.actor.id,
        role=body.role,
        ttl=body.ttl_seconds,
        now=utcnow(),
        key=reading.reader.actor_id,  # the token names its key: its requests are the key's
        # in the rate limit (kansa.http.limits.bucket_of)
    )
    expires = iso_utc(from_micros(minted.expires_at * 1_000_000))
    return JSON(
        {"token": minted.token, "expires_at": expires, "tenant": tenant.id, "role": body.role},
        status_code=201,
    )
