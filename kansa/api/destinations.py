"""``/api/v1/destinations``: where a tenant's log is streamed, configured as code — made,
listed with their lag, paused, resumed, tested, moved back (backfill) and removed. Listing
takes an API key with ``read`` scope, every change one with ``admin`` scope (where a log goes
is the operator's decision, not a reader's): a key bound to a tenant sees and manages that
tenant's destinations; a key bound to none also the operator's (every tenant). A secret is
never shown back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from kansa.api.search import ERRORS
from kansa.errors import Forbidden
from kansa.http.readers import key_reader
from kansa.http.responses import JSON
from kansa.server.runtime import Runtime
from kansa.streaming import manage
from kansa.streaming.destinations import parse_spec
from kansa.streaming.sealing import Sealer
from kansa.streaming.senders import probed
from kansa.timeutil import utcnow

router = APIRouter(prefix="/api/v1", tags=["streaming"])
MAX_SEQ = 2**63 - 1


class DestinationIn(BaseModel):
    """A destination asked for; ``config``, ``secret`` and ``filter`` are checked per kind
    (see docs/streaming.md)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    kind: str = Field(description="webhook, nats, s3, hec, otlp or syslog")
    config: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(default=None, max_length=500)
    filter: dict[str, Any] = Field(default_factory=dict)
    start: str = Field(default="now", description="now or beginning")
    tenant: str | None = Field(
        default=None, description="The tenant (a bound key's own); none: every tenant."
    )


class RewindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(min_length=1, max_length=200)
    seq: int = Field(ge=0, le=MAX_SEQ, description="Deliver again everything after this seq.")


class Asker:
    """The runtime and the tenant the key is bound to (None: the operator's key)."""

    def __init__(self, runtime: Runtime, owner: str | None) -> None:
        self.runtime = runtime
        self.owner = owner


async def asker(request: Request) -> Asker:
    reader = await key_reader(request)
    runtime: Runtime = request.app.state.kansa
    return Asker(runtime, reader.tenant)


async def manager(request: Request) -> Asker:
    reader = await key_reader(request, "admin")
    runtime: Runtime = request.app.state.kansa
    return Asker(runtime, reader.tenant)


Asking = Annotated[Asker, Depends(asker)]
"""A key with ``read`` scope: it may look."""
Managing = Annotated[Asker, Depends(manager)]
"""A key with ``admin`` scope: it may change."""


async def _shown(who: Asker, destination_id: str) -> dict[str, Any]:
    store = who.runtime.store
    return await who.runtime.read(
        lambda: manage.status(
            store, manage.find(store, destination_id, who.owner), who.owner, utcnow()
        )
    )


@router.get("/destinations", summary="The destinations the key manages", responses=ERRORS)
async def list_destinations(who: Asking, tenant: str | None = None) -> JSON:
    """Every destination the key manages (those of ``tenant`` alone when given), with its
    cursors and lag (events, seconds)."""
    if who.owner is not None and tenant not in (None, who.owner):
        raise Forbidden(f"a key of tenant {who.owner!r} reads its own destinations only")
    store, now, owner = who.runtime.store, utcnow(), who.owner or tenant
    found = await who.runtime.read(
        lambda: [manage.status(store, d, owner, now) for d in manage.listed(store, owner)]
    )
    return JSON({"destinations": found})


@router.post("/destinations", status_code=201, summary="Add a destination", responses=ERRORS)
async def add_destination(who: Managing, body: DestinationIn) -> JSON:
    """Keep a destination and start delivering to it. A webhook given no secret gets one,
    returned in ``secret`` this once; a secret given is never shown back."""
    tenant = body.tenant if who.owner is None else who.owner
    if who.owner is not None and body.tenant not in (None, who.owner):
        raise Forbidden(f"a key of tenant {who.owner!r} adds destinations for it alone")
    spec = parse_spec(body.model_dump(exclude={"tenant"}, exclude_unset=True))
    runtime = who.runtime
    made = await runtime.read(
        lambda: manage.add(
            runtime.store, runtime.signer(), spec, tenant, secret_given=body.secret is not None
        )
    )
    shown = await _shown(who, made.destination.id)
    if made.secret is not None:
        shown["secret"] = made.secret
    return JSON(shown, status_code=201)


@router.get("/destinations/{destination}", summary="One destination", responses=ERRORS)
async def get_destination(who: Asking, destination: str) -> JSON:
    """The destination, its cursors (per tenant: delivered seq, lag, failures, degraded)."""
    return JSON(await _shown(who, destination))


@router.delete("/destinations/{destination}", summary="Remove a destination", responses=ERRORS)
async def remove_destination(who: Managing, destination: str) -> JSON:
    """Stop delivering to it and forget it, with its cursors."""
    store = who.runtime.store
    await who.runtime.read(lambda: manage.remove(store, destination, who.owner))
    return JSON({"removed": destination})


@router.post("/destinations/{destination}/pause", summary="Pause delivery", responses=ERRORS)
async def pause_destination(who: Managing, destination: str) -> JSON:
    """Stop delivering; the cursors wait where they are."""
    store = who.runtime.store
    await who.runtime.read(lambda: manage.pause(store, destination, who.owner, True))
    return JSON(await _shown(who, destination))


@router.post("/destinations/{destination}/resume", summary="Resume delivery", responses=ERRORS)
async def resume_destination(who: Managing, destination: str) -> JSON:
    """Deliver again, from where each cursor waits."""
    store = who.runtime.store
    await who.runtime.read(lambda: manage.pause(store, destination, who.owner, False))
    return JSON(await _shown(who, destination))


@router.post("/destinations/{destination}/rewind", summary="Move a cursor back", responses=ERRORS)
async def rewind_destination(who: Managing, destination: str, body: RewindIn) -> JSON:
    """Deliver the tenant's events after ``seq`` again (a backfill; 0: from the start)."""
    store = who.runtime.store
    await who.runtime.read(
        lambda: manage.rewind(store, destination, who.owner, body.tenant, body.seq)
    )
    return JSON(await _shown(who, destination))


@router.post("/destinations/{destination}/test", summary="Test a destination", responses=ERRORS)
async def test_destination(who: Managing, destination: str) -> JSON:
    """Reach the receiver without delivering anything: ``ok`` and, when not, why."""
    runtime = who.runtime

    def probe() -> str | None:
        found = manage.find(runtime.store, destination, who.owner)
        return probed(found, Sealer(runtime.signer()))

    problem = await runtime.read(probe)
    return JSON({"id": destination, "ok": problem is None, "problem": problem})
