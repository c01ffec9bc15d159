"""What an operator does to credentials and tenants after making them: revoke and rotate API
keys; disable, enable, unlock, re-role or give a new password to accounts (whose console
sessions then end); retire tenants. The ``kansa`` command and the operator API both call
these.

Every change is recorded in the tenant's own log — kansa's own event, in kansa's access
history — in the transaction that makes it. A key bound to no tenant belongs to no tenant's
log: its revocation and rotation are recorded nowhere but in the key's own row.

``within`` is the tenant an operator is confined to (an ``admin`` key bound to a tenant):
a key or account of another tenant is then NotFound, as if it did not exist."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from kansa.access import sessions
from kansa.access.accounts import check_role
from kansa.access.keys import NewKey, make_key
from kansa.catalog import Catalog
from kansa.errors import InvalidInput, NotFound, Problem
from kansa.events.own import own_event
from kansa.events.prepare import PreparedEvent
from kansa.records import Account, AccountChanges, ApiKey, Tenant
from kansa.store import Store
from kansa.timeutil import iso_utc

Actor = Mapping[str, str]
AccountAction = Literal["disable", "enable", "set-role", "unlock", "reset-password"]
ACCOUNT_ACTIONS: tuple[AccountAction, ...] = (
    "disable",
    "enable",
    "set-role",
    "unlock",
    "reset-password",
)
MAX_OVERLAP_MINUTES = 30 * 24 * 60
"""The longest a rotated key's old secret may keep working: 30 days."""
MAX_EXPIRY_DAYS = 10 * 366

_EVENTS: dict[AccountAction, str] = {
    "disable": "account.disable",
    "enable": "account.enable",
    "set-role": "account.role_change",
    "unlock": "account.unlock",
    "reset-password": "account.password_reset",
}
_ENDS_SESSIONS = frozenset({"disable", "set-role", "reset-password"})


def key_in(store: Store, key_id: str, within: str | None = None) -> ApiKey:
    """The key ``key_id``; NotFound when there is none (or it is outside ``within``)."""
    key = store.get_api_key(key_id)
    if key is None or (within is not None and key.tenant != within):
        raise NotFound(f"no API key {key_id!r}")
    return key


def expiry(days: int | None, now: datetime) -> datetime | None:
    """When a key made ``now`` to last ``days`` expires (None: never)."""
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidInput([Problem("expires_in_days", f"must be 1 to {MAX_EXPIRY_DAYS}")])
    return now + timedelta(days=days)


def revoke_key(
    store: Store,
    catalog: Catalog,
    key_id: str,
    actor: Actor,
    *,
    now: datetime,
    within: str | None = None,
) -> ApiKey:
    """Revoke a key: refused from then on (within a second by every process). Conflict if
    it is revoked already."""
    key = key_in(store, key_id, within)
    record = _key_event(catalog, key, "apikey.revoke", actor)
    return store.revoke_api_key(key.id, at=now, record=record)


def rotate_key(
    store: Store,
    catalog: Catalog,
    key_id: str,
    actor: Actor,
    *,
    overlap_minutes: int,
    now: datetime,
    within: str | None = None,
) -> tuple[ApiKey, NewKey]:
    """Give a key a new secret, keeping its id, scopes and tenant; the old secret keeps
    working for ``overlap_minutes`` (0: stops now), then stops. The new key is shown only
    in what this returns."""
    if not 0 <= overlap_minutes <= MAX_OVERLAP_MINUTES:
        raise InvalidInput(
            [Problem("overlap_minutes", f"must be 0 to {MAX_OVERLAP_MINUTES} (30 days)")]
        )
    key = key_in(store, key_id, within)
    fresh = NewKey(key.id, make_key().secret)
    until = now + timedelta(minutes=overlap_minutes)
    record = _key_event(catalog, key, "apikey.rotate", actor, previous_until=iso_utc(until))
    rotated = store.rotate_api_key(
        key.id, secret_hash=fresh.secret_hash, previous_until=until, at=now, record=record
    )
    return rotated, fresh


def _key_event(
    catalog: Catalog, key: ApiKey, action: str, actor: Actor, **params: str
) -> PreparedEvent | None:
    if key.tenant is None:
        return None
    said = {"key_id": key.id, "app": key.app, **params}
    return own_event(catalog, key.tenant, action, actor, said)


def change_account(
    store: Store,
    catalog: Catalog,
    tenant: str,
    login: str,
    action: AccountAction,
    actor: Actor,
    *,
    now: datetime,
    role: str | None = None,
    password_hash: str | None = None,
) -> Account:
    """Do ``action`` to an account and record it; disabling it, changing its role or its
    password also ends every console session it has open."""
    if store.get_account(tenant, login) is None:
        raise NotFound(f"no account {login!r} in tenant {tenant!r}")
    changes = _changes(action, role, password_hash)
    params = {"login": login, "role": role if action == "set-role" else None}
    record = own_event(catalog, tenant, _EVENTS[action], actor, params)
    account = store.change_account(tenant, login, changes, at=now, record=record)
    if action in _ENDS_SESSIONS:
        sessions.end_account(store, tenant, login, now=now)
    return account


def _changes(action: AccountAction, role: str | None, password_hash: str | None) -> AccountChanges:
    if action == "set-role":
        if role is None:
            raise InvalidInput([Problem("role", "must be admin or user")])
        check_role(role)
        return AccountChanges(role=role)
    if action == "reset-password":
        assert password_hash is not None, "a new password comes with reset-password"
        return AccountChanges(password_hash=password_hash)
    if action == "unlock":
        return AccountChanges(unlock=True)
    return AccountChanges(disabled=action == "disable")


def retire_tenant(
    store: Store, catalog: Catalog, tenant: str, reason: str, actor: Actor, *, now: datetime
) -> Tenant:
    """Retire a tenant made by mistake or no longer served: publishing for it is refused
    from then on (within a second by every process), while its log stays readable,
    exportable and verifiable, and purges and checkpoints go on. Conflict if retired."""
    if not reason.strip():
        raise InvalidInput([Problem("reason", "must say why the tenant is retired")])
    if store.get_tenant(tenant) is None:
        raise NotFound(f"no tenant {tenant!r}")
    record = own_event(catalog, tenant, "tenant.retire", actor, {"reason": reason})
    return store.retire_tenant(tenant, reason, at=now, record=record)


def key_facts(key: ApiKey) -> dict[str, object]:
    """A key as listed (never its secret nor its hash), for the CLI's ``--json`` and the API."""
    return {
        "id": key.id,
        "app": key.app,
        "tenant": key.tenant,
        "scopes": sorted(key.scopes),
        "created_at": _time(key.created_at),
        "expires_at": _time(key.expires_at),
        "revoked_at": _time(key.revoked_at),
        "last_used_at": _time(key.last_used_at),
        "previous_secret_until": _time(key.previous_until),
    }


def account_facts(account: Account, now: datetime) -> dict[str, object]:
    """An account as listed (never its password hash)."""
    locked = account.locked_until is not None and account.locked_until > now
    return {
        "tenant": account.tenant,
        "login": account.login,
        "name": account.name,
        "role": account.role,
        "disabled_at": _time(account.disabled_at),
        "locked_until": _time(account.locked_until) if locked else None,
        "failures": account.failures,
    }


def tenant_facts(tenant: Tenant) -> dict[str, object]:
    """A tenant as listed."""
    return {
        "id": tenant.id,
        "name": tenant.name,
        "layout": tenant.layout,
        "tz": tenant.tz,
        "lang": tenant.lang,
        "region": tenant.region,
        "created_at": _time(tenant.created_at),
        "last_seq": tenant.last_seq,
        "chain_start_seq": tenant.chain_start_seq,
        "checkpoint_seq": tenant.checkpoint_seq,
        "legal_hold": tenant.legal_hold,
        "retired_at": _time(tenant.retired_at),
        "retired_reason": tenant.retired_reason,
    }


def key_facts_time(moment: datetime | None) -> str | None:
    """A moment as the facts above give it (None stays None)."""
    return iso_utc(moment) if moment is not None else None


_time = key_facts_time
