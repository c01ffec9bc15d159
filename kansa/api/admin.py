"""``/api/v1/admin/…``: the operator API, for an API key with the ``admin`` scope — list,
show, revoke and rotate API keys; list and manage a tenant's accounts; list, show and retire
tenants. A key bound to a tenant manages that tenant only (another tenant's key or account
is 404, another tenant 403). The rules are :mod:`kansa.access.manage`'s; every change is
recorded in the tenant's own log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from kansa.access import manage
from kansa.access.accounts import generate_password, hash_password
from kansa.access.readers import Reader
from kansa.api.search import ERRORS
from kansa.http.readers import Reading, key_reader, reading_of, runtime_of
from kansa.http.responses import JSON
from kansa.timeutil import utcnow
from kansa.words import Role

router = APIRouter(prefix="/api/v1/admin", tags=["operator"])

CHANGES = {**ERRORS, 409: {"description": "Revoked or retired already."}}


async def admin_key(request: Request) -> Reader:
    """An API key with the ``admin`` scope."""
    return await key_reader(request, "admin")


Admin = Annotated[Reader, Depends(admin_key)]


async def _tenant(request: Request, who: Reader, tenant: str) -> Reading:
    return await reading_of(request, who, tenant)


class RotateRequest(BaseModel):
    overlap_minutes: int = Field(
        default=60,
        ge=0,
        le=manage.MAX_OVERLAP_MINUTES,
        description="How long the old secret keeps working (0: it stops now).",
    )


class RoleRequest(BaseModel):
    role: Role


class RetireRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.get("/api-keys", summary="List API keys", responses=ERRORS)
async def api_keys(request: Request, who: Admin, tenant: str | None = None) -> JSON:
    """Every key (a bound admin key: those of its tenant), never a secret; ``tenant``
    narrows the list to the keys bound to that tenant."""
    runtime = runtime_of(request)
    bound = who.tenant
    if tenant is not None:  # another tenant than a bound key's own: 403; unknown: 404
        bound = (await _tenant(request, who, tenant)).tenant.id
    found = await runtime.read(lambda: runtime.store.list_api_keys(bound))
    return JSON({"api_keys": [manage.key_facts(k) for k in found]})


@router.get("/api-keys/{key_id}", summary="Show one API key", responses=ERRORS)
async def api_key(request: Request, who: Admin, key_id: str) -> JSON:
    """One key: app, tenant, scopes, expiry, revocation, last use — never its secret."""
    runtime = runtime_of(request)
    key = await runtime.read(lambda: manage.key_in(runtime.store, key_id, who.tenant))
    return JSON(manage.key_facts(key))


@router.post("/api-keys/{key_id}/revoke", summary="Revoke an API key", responses=CHANGES)
async def revoke(request: Request, who: Admin, key_id: str) -> JSON:
    """Revoke the key: every kansa process refuses it within a second. Recorded in its
    tenant's log (``apikey.revoke``). 409 when revoked already."""
    runtime = runtime_of(request)
    key = await runtime.read(
        lambda: manage.revoke_key(
            runtime.store, runtime.catalog, key_id, who.actor(), now=utcnow(), within=who.tenant
        )
    )
    return JSON(manage.key_facts(key))


@router.post("/api-keys/{key_id}/rotate", summary="Rotate an API key", responses=CHANGES)
async def rotate(request: Request, who: Admin, key_id: str, body: RotateRequest) -> JSON:
    """A new secret for the key (same id, scopes and tenant), in ``key``, shown only this
    once; the old secret keeps working for ``overlap_minutes``. Recorded as
    ``apikey.rotate``. 409 for a revoked key."""
    runtime = runtime_of(request)
    key, fresh = await runtime.read(
        lambda: manage.rotate_key(
            runtime.store,
            runtime.catalog,
            key_id,
            who.actor(),
            overlap_minutes=body.overlap_minutes,
            now=utcnow(),
            within=who.tenant,
        )
    )
    return JSON({**manage.key_facts(key), "key": fresh.token})


@router.get("/tenants", summary="List tenants", responses=ERRORS)
async def tenants(request: Request, who: Admin) -> JSON:
    """Every tenant (a bound admin key: its own)."""
    runtime = runtime_of(request)
    found = await runtime.read(runtime.store.list_tenants)
    shown = [t for t in found if who.tenant is None or t.id == who.tenant]
    return JSON({"tenants": [manage.tenant_facts(t) for t in shown]})


@router.get("/tenants/{tenant}", summary="Show one tenant", responses=ERRORS)
async def tenant(request: Request, who: Admin, tenant: str) -> JSON:
    """The tenant's settings, chain head, checkpoint, legal hold and retirement."""
    return JSON(manage.tenant_facts((await _tenant(request, who, tenant)).tenant))


@router.post("/tenants/{tenant}/retire", summary="Retire a tenant", responses=CHANGES)
async def retire(request: Request, who: Admin, tenant: str, body: RetireRequest) -> JSON:
    """Refuse events for the tenant from now on (within a second on every process); its log
    stays readable, exportable and verifiable. Recorded as ``tenant.retire``. 409 when
    retired already."""
    reading = await _tenant(request, who, tenant)
    runtime = reading.runtime
    store, catalog, tenant_id = runtime.store, runtime.catalog, reading.tenant.id
    retired = await runtime.read(
        lambda: manage.retire_tenant(
            store, catalog, tenant_id, body.reason, who.actor(), now=utcnow()
        )
    )
    runtime.forget_retired()
    return JSON(manage.tenant_facts(retired))


@router.get("/tenants/{tenant}/accounts", summary="List a tenant's accounts", responses=ERRORS)
async def accounts(request: Request, who: Admin, tenant: str) -> JSON:
    """The tenant's console accounts: login, name, role, disabled, locked (no password)."""
    reading = await _tenant(request, who, tenant)
    runtime, now = reading.runtime, utcnow()
    found = await runtime.read(lambda: runtime.store.list_accounts(reading.tenant.id))
    return JSON({"accounts": [manage.account_facts(a, now) for a in found]})


async def _account(
    request: Request,
    who: Reader,
    tenant: str,
    login: str,
    action: manage.AccountAction,
    role: str | None = None,
    password_hash: str | None = None,
) -> dict[str, object]:
    reading = await _tenant(request, who, tenant)
    runtime = reading.runtime
    account = await runtime.read(
        lambda: manage.change_account(
            runtime.store,
            runtime.catalog,
            reading.tenant.id,
            login,
            action,
            who.actor(),
            now=utcnow(),
            role=role,
            password_hash=password_hash,
        )
    )
    return manage.account_facts(account, utcnow())


PATH = "/tenants/{tenant}/accounts/{login}"


@router.post(f"{PATH}/disable", summary="Disable an account", responses=ERRORS)
async def disable(request: Request, who: Admin, tenant: str, login: str) -> JSON:
    """The account can no longer sign in; its console sessions end now."""
    return JSON(await _account(request, who, tenant, login, "disable"))


@router.post(f"{PATH}/enable", summary="Enable an account", responses=ERRORS)
async def enable(request: Request, who: Admin, tenant: str, login: str) -> JSON:
    """A disabled account may sign in again."""
    return JSON(await _account(request, who, tenant, login, "enable"))


@router.post(f"{PATH}/unlock", summary="Unlock an account", responses=ERRORS)
async def unlock(request: Request, who: Admin, tenant: str, login: str) -> JSON:
    """Clear the account's lock and failed sign-ins."""
    return JSON(await _account(request, who, tenant, login, "unlock"))


@router.post(f"{PATH}/role", summary="Change an account's role", responses=ERRORS)
async def set_role(
    request: Request, who: Admin, tenant: str, login: str, body: RoleRequest
) -> JSON:
    """Give the account the role ``admin`` or ``user``; its console sessions end now."""
    return JSON(await _account(request, who, tenant, login, "set-role", role=body.role))


@router.post(f"{PATH}/reset-password", summary="Reset an account's password", responses=ERRORS)
async def reset_password(request: Request, who: Admin, tenant: str, login: str) -> JSON:
    """A new random password, in ``password``, shown only this once; the lock is cleared and
    the account's console sessions end now."""
    password = generate_password()
    runtime = runtime_of(request)
    hashed = await runtime.check_password(lambda: hash_password(password))
    facts = await _account(request, who, tenant, login, "reset-password", password_hash=hashed)
    return JSON({**facts, "password": password})
