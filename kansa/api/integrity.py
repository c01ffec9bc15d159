"""``/api/v1/checkpoints`` and ``/api/v1/public-key``: what an auditor needs to check the log
and its exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from kansa.api.search import ERRORS
from kansa.errors import Forbidden
from kansa.http.readers import AnyReading, Reading, key_reader, reading_of
from kansa.http.responses import JSON
from kansa.integrity.checkpoints import sign_checkpoint
from kansa.integrity.signing import ALGORITHM
from kansa.server.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["integrity"])

MAX_CHECKPOINTS = 1000
MAX_SEQ = 2**63 - 1
"""The largest sequence number a store holds (a signed 64-bit integer)."""


class CheckpointRequest(BaseModel):
    tenant: str | None = Field(default=None, description="Defaults to the key's tenant.")


@router.get("/public-key", summary="The key that signs checkpoints and export manifests")
def public_key(request: Request) -> JSON:
    """The Ed25519 public key (PEM) and its id. Public: no credentials needed. An auditor
    should compare the key id with one obtained out of band before trusting it."""
    runtime: Runtime = request.app.state.kansa
    key = runtime.signer().public_key
    return JSON({"algorithm": ALGORITHM, "key_id": key.key_id, "public_key": key.pem()})


@router.get("/checkpoints", summary="A tenant's signed checkpoints", responses=ERRORS)
async def checkpoints(
    reading: AnyReading,
    tenant: str | None = None,  # read by the reading dependency; declared here for /docs
    before: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CHECKPOINTS)] = 100,
) -> JSON:
    """The tenant's signed checkpoints, newest first; ``before`` (a seq) pages back. For a
    read key (a bound key sees only its tenant) or an administrator's viewer token."""
    runtime, record = reading.runtime, reading.tenant
    if reading.reader.role != "admin":
        raise Forbidden("checkpoints are for administrators and API keys")
    found = await runtime.read(
        lambda: runtime.store.checkpoints(record.id, before=before, limit=limit, newest_first=True)
    )
    return JSON(
        {
            "tenant": record.id,
            "head": {"seq": record.last_seq, "hash": record.last_hash},
            "chain_start": {"seq": record.chain_start_seq, "prev_hash": record.chain_start_hash},
            "checkpoints": [c.as_dict() for c in found],
            "next_before": found[-1].seq if len(found) == limit else None,
        }
    )


async def _body_reading(request: Request, body: CheckpointRequest | None = None) -> Reading:
    """A key with ``checkpoint`` scope, and the tenant the body names (or the key's own)."""
    tenant = body.tenant if body else None
    return await reading_of(request, await key_reader(request, "checkpoint"), tenant)


@router.post(
    "/checkpoints",
    status_code=201,
    summary="Sign the tenant's head now",
    responses={200: {"description": "The head was signed already: that checkpoint."}, **ERRORS},
)
async def make_checkpoint(reading: Annotated[Reading, Depends(_body_reading)]) -> JSON:
    """Sign a checkpoint at the tenant's head now (after verifying the events since the
    previous one), for an API key with ``checkpoint`` scope. 201 with the new checkpoint; 200 with
    the existing one when the head is signed already; 409 when the chain does not verify."""
    runtime, record = reading.runtime, reading.tenant
    signer = runtime.signer()
    made = await runtime.read(lambda: sign_checkpoint(runtime.store, signer, record.id))
    fresh = made.seq != record.checkpoint_seq
    return JSON(made.as_dict(), status_code=201 if fresh else 200)
