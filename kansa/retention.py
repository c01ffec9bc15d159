"""Retention: how long a tenant keeps each history, what a purge removes, and legal holds.

**Days.** Each history (login, operation, provisioning) is kept for the days its product's
catalog says (``[retention]``: KDDI Business ID 365 for all three, PCA ID 730; none for
microCMS and Garoon, which keep everything), unless the tenant overrides it
(``kansa tenant update ID --retention login=90``; 0 keeps forever). An event has expired
when it *occurred* longer ago than its history's days.

**The rule.** A purge removes the longest run of the tenant's chain, from where the chain now
begins, in which every event has expired — and nothing else. So the chain that is left is
still one unbroken run, verifiable from its new start: no event is removed before it
expires, but one may be kept past its time while an earlier event in the chain has not
expired yet (a late event, or a history kept longer). Before removing anything the run is
verified — a purge never hides tampering — and the purge records a ``retention.purge``
event in the tenant's own log: the range, the count, and the seq and ``prev_hash`` the chain
now begins with (``kansa verify`` requires that record for a chain that starts after seq 1).

**Legal hold.** A tenant under legal hold is never purged. Placing and releasing a hold is
recorded in the tenant's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kansa.catalog import Catalog
from kansa.errors import Conflict, InvalidInput, NotFound, Problem
from kansa.events.own import own_event
from kansa.events.prepare import PreparedEvent
from kansa.integrity.chain import verify
from kansa.integrity.checkpoints import rest_of_chain
from kansa.integrity.signing import PublicKey
from kansa.integrity.verify import DERIVED
from kansa.records import Tenant, TenantChanges
from kansa.store import Store
from kansa.store.base import Cut, Purged
from kansa.timeutil import iso_utc, utcnow
from kansa.words import HISTORIES

SYSTEM_ACTOR = {"id": "kansa", "name": "kansa", "type": "system"}
FOREVER_WORDS = ("0", "forever", "unlimited")


def defaults(catalog: Catalog, layout: str | None) -> dict[str, int | None]:
    """Days per history from the catalog of the tenant's product; None keeps forever."""
    product = catalog.products.get(layout or "") or next(
        (p for p in catalog.products.values() if layout and p.layout == layout), None
    )
    kept = product.retention_days if product is not None else {}
    return {history: kept.get(history) for history in HISTORIES}


def effective(tenant: Tenant, catalog: Catalog) -> dict[str, int | None]:
    """The tenant's days per history: its overrides, else its product's."""
    days = defaults(catalog, tenant.layout)
    for history, override in tenant.retention.items():
        days[history] = override or None
    return days


def describe(days: Mapping[str, int | None]) -> str:
    return ", ".join(f"{h}={d if d else 'forever'}" for h, d in days.items())


def parse_overrides(spec: str) -> dict[str, int | None]:
    """``login=365,operation=forever,provisioning=default`` → days per history (None: back
    to the product's default)."""
    changes: dict[str, int | None] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        history, _, value = part.partition("=")
        history, value = history.strip(), value.strip().lower()
        if history not in HISTORIES:
            raise _bad(f"{history!r} is not a history; use {', '.join(HISTORIES)}")
        if value == "default":
            changes[history] = None
        elif value in FOREVER_WORDS:
            changes[history] = 0
        elif value.isdigit():
            changes[history] = int(value)
        else:
            raise _bad(f"{part!r}: days must be a whole number, 'forever' or 'default'")
    if not changes:
        raise _bad("give history=days pairs, e.g. login=365,operation=730")
    return changes


def _bad(message: str) -> InvalidInput:
    return InvalidInput([Problem("retention", message)])


def apply_overrides(
    current: Mapping[str, int], changes: Mapping[str, int | None]
) -> dict[str, int]:
    merged = dict(current)
    for history, days in changes.items():
        if days is None:
            merged.pop(history, None)
        else:
            merged[history] = days
    return merged


def cutoffs(days: Mapping[str, int | None], now: datetime) -> dict[str, datetime]:
    """For each history with a limit, the moment before which its events have expired."""
    return {h: now - timedelta(days=d) for h, d in days.items() if d}


@dataclass(slots=True)
class Plan:
    """What a purge of one tenant removes, or why it removes nothing."""

    tenant: Tenant
    days: dict[str, int | None]
    cut: Cut | None = None
    held: bool = False
    refused: str | None = None
    """Why the expired run was not removed: it does not verify."""
    purged: Purged | None = None

    @property
    def count(self) -> int:
        return self.cut.last_seq - self.cut.first_seq + 1 if self.cut else 0


def plan(
    store: Store, catalog: Catalog, tenant: Tenant, now: datetime, key: PublicKey | None = None
) -> Plan:
    """What a purge at ``now`` would remove from ``tenant``: the longest run of expired
    events from the chain's start, verified (against ``key``'s checkpoints, if given) and
    removed only if the rest of the chain links on from it and agrees with every later
    checkpoint."""
    days = effective(tenant, catalog)
    found = Plan(tenant, days, held=tenant.legal_hold is not None)
    limits = cutoffs(days, now)
    if found.held or not limits:
        return found
    start = tenant.chain_start_seq
    keep = store.first_unexpired(tenant.id, start - 1, limits)
    last = tenant.last_seq if keep is None else min(keep - 1, tenant.last_seq)
    if last < start:
        return found
    anchors = {}
    if key is not None:
        anchors = {
            c.seq: c.head_hash
            for c in store.checkpoints(tenant.id, before=last + 1)
            if c.seq >= start and key.checks(c)
        }
    walk = verify(
        tenant.id,
        store.chain(tenant.id, start - 1, upto=last),
        start_seq=start,
        start_hash=tenant.chain_start_hash,
        derived=DERIVED,
        anchors=anchors,
    )
    if walk.broken is not None:
        found.refused = str(walk.broken)
    elif walk.head_seq != last:
        found.refused = f"tenant {tenant.id}: seq {walk.head_seq + 1}-{last} missing"
    else:
        rest = rest_of_chain(store, tenant, last, walk.head_hash, key)
        if rest is not None:
            found.refused = f"not purging seq {start}-{last}: {rest}"
        else:
            found.cut = Cut(tenant.id, start, last, walk.head_hash)
    return found


def purge(
    store: Store,
    catalog: Catalog,
    *,
    tenant_id: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    key: PublicKey | None = None,
) -> list[Plan]:
    """Purge every tenant (or one): plan each, then remove every verified expired run and
    record it. With ``dry_run`` only plan."""
    moment = now or utcnow()
    if tenant_id is not None:
        tenant = store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        tenants = [tenant]
    else:
        tenants = store.list_tenants()
    plans = {t.id: plan(store, catalog, t, moment, key) for t in tenants}
    cuts = [p.cut for p in plans.values() if p.cut is not None]
    if dry_run or not cuts:
        return list(plans.values())

    def record(purged: Purged) -> PreparedEvent:
        return purge_event(purged, plans[purged.tenant].days, moment, catalog)

    for purged in store.purge(cuts, record):
        plans[purged.tenant].purged = purged
    return list(plans.values())


def purge_event(
    purged: Purged, days: Mapping[str, int | None], now: datetime, catalog: Catalog
) -> PreparedEvent:
    """The ``retention.purge`` event that records ``purged`` in the tenant's log."""
    details: dict[str, Any] = {
        "retention_days": dict(days),
        "expired_before": {h: iso_utc(c) for h, c in cutoffs(days, now).items()},
    }
    if purged.partitions:
        details["partitions_dropped"] = list(purged.partitions)
    params = {
        "count": purged.count,
        "first_seq": purged.first_seq,
        "last_seq": purged.last_seq,
        "chain_start_seq": purged.start_seq,
        "chain_start_prev_hash": purged.start_hash,
    }
    return own_event(
        catalog, purged.tenant, "retention.purge", SYSTEM_ACTOR, params, details=details
    )


def set_legal_hold(
    store: Store,
    catalog: Catalog,
    tenant_id: str,
    reason: str | None,
    actor: Mapping[str, Any],
    *,
    ip: str | None = None,
    release_reason: str | None = None,
) -> Tenant:
    """Place a legal hold (``reason``) or release it (``reason`` None, saying why in
    ``release_reason``), recorded in the tenant's log in the same transaction."""
    tenant = store.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    if reason is None and tenant.legal_hold is None:
        raise Conflict(f"tenant {tenant_id!r} is not under legal hold")
    action = "legal_hold.set" if reason is not None else "legal_hold.release"
    said = {"reason": reason if reason is not None else release_reason}
    event = own_event(catalog, tenant_id, action, actor, said, ip=ip)
    return store.set_legal_hold(tenant_id, reason, event)


def change_retention(
    store: Store,
    catalog: Catalog,
    tenant_id: str,
    changes: Mapping[str, int | None],
    actor: Mapping[str, Any],
) -> Tenant:
    """Override (or reset) the tenant's days per history, and record ``retention.set`` in
    its log."""
    tenant = store.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    changed = store.update_tenant(
        tenant_id, TenantChanges(retention=apply_overrides(tenant.retention, changes))
    )
    kept = {"retention": describe(effective(changed, catalog))}
    store.append([own_event(catalog, tenant_id, "retention.set", actor, kept)])
    return changed
