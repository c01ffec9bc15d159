"""Retention: how long a tenant keeps each history, what a purge removes, and legal holds.

**Days.** Each history (login, operation, provisioning) is kept for the days its product's
catalog says (``[retention]``: KDDI Business ID 365 for all three, PCA ID 730; none for
microCMS and Garoon, which keep everything), unless the tenant overrides it
(``kansa tenant update ID --retention login=90``; 0 keeps forever). An event has expired
when it *occurred* longer ago than its history's days.

**The rule.** A purge *prunes* every expired event of the tenant's chain, wherever it sits:
its content (the stored bytes and every column carrying names, logins, addresses, messages,
search text) is removed, and what the chain stands on is kept — seq, hash, previous hash,
and a commitment (:mod:`kansa.integrity.commitment`) from which verify still proves the
event's link — with its time, action and result, which say nothing of a person. Before
pruning anything the whole chain is verified (against the signed checkpoints, given the key)
— a purge never hides tampering, so a chain that does not verify is not pruned at all — and
the purge records a ``retention.purge`` event in the tenant's own log: the count and the seq
range. Chains cut by earlier versions (which deleted whole runs from the start) keep
verifying from the start their last purge record names.

**Legal hold.** A tenant under legal hold is never purged. Placing and releasing a hold is
recorded in the tenant's log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kansa.catalog import Catalog
from kansa.errors import Conflict, InvalidInput, NotFound, Problem
from kansa.events.own import own_event
from kansa.events.prepare import PreparedEvent
from kansa.integrity.signing import PublicKey
from kansa.integrity.verify import verify_tenant
from kansa.records import Tenant, TenantChanges
from kansa.store import Store
from kansa.store.base import Prune, Pruned
from kansa.timeutil import iso_utc, utcnow
from kansa.words import HISTORIES

SYSTEM_ACTOR = {"id": "kansa", "name": "kansa", "type": "system"}
STRETCH = 20_000
"""Seqs a prune goes through per transaction: appends to the tenant wait at most that long."""
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
    """What a purge of one tenant prunes, or why it prunes nothing."""

    tenant: Tenant
    days: dict[str, int | None]
    order: Prune | None = None
    expired: tuple[int, int, int] = (0, 0, 0)
    """How many events the order takes, and the lowest and highest seq among them."""
    held: bool = False
    waiting: int | None = None
    """The last seq every streaming destination has received, when it is below the head:
    nothing above it is pruned."""
    gap: int | None = None
    """The same seq when the operator said to prune what destinations have not received:
    recorded in the purge's event."""
    refused: str | None = None
    """Why nothing was pruned: the chain does not verify, or a hold came first."""
    purged: Pruned | None = None

    @property
    def count(self) -> int:
        return self.purged.count if self.purged else self.expired[0]


def plan(
    store: Store,
    catalog: Catalog,
    tenant: Tenant,
    now: datetime,
    key: PublicKey | None = None,
    undelivered: bool = False,
) -> Plan:
    """What a purge at ``now`` would prune from ``tenant``: every expired event of the chain
    as it verifies now (against ``key``'s checkpoints, if given) — none if it does not — and
    that every streaming destination has received (all of them, with ``undelivered``)."""
    days = effective(tenant, catalog)
    found = Plan(tenant, days, held=tenant.legal_hold is not None)
    limits = cutoffs(days, now)
    if found.held or not limits:
        return found
    walk = verify_tenant(store, tenant.id, key)
    if walk.broken is not None:
        found.refused = f"not purging: {walk.broken}"
        return found
    found.order = Prune(tenant.id, walk.head_seq, walk.head_hash, "retention", cutoffs=limits)
    floor = store.delivery_floor(tenant.id)
    if floor is not None and floor < walk.head_seq:
        if undelivered:
            found.gap = floor
        else:
            found.waiting = floor
            if floor <= 0:  # no destination has received anything yet
                return found
            found.order = found.order.stretch(0, floor)
    found.expired = store.prunable(found.order)
    return found


def prune_in_stretches(
    store: Store,
    order: Prune,
    record: Callable[[Pruned], PreparedEvent | None],
    stretch: int = STRETCH,
) -> Pruned:
    """Carry out ``order`` a stretch of ``stretch`` seqs per transaction, and record it all
    (``record`` of the whole) with the last. Should a stretch be refused (a hold placed
    meanwhile), what was pruned before it is recorded, then the refusal raised."""
    done = Pruned(order.tenant, order.reason, 0)
    end = order.through_seq or order.upto_seq
    starts = range(order.after_seq, end, stretch) or range(order.after_seq, 1)
    for start in starts:
        last = start + stretch >= end
        part = order.stretch(start, min(start + stretch, end))

        def step(pruned: Pruned, last: bool = last, before: Pruned = done) -> PreparedEvent | None:
            return record(before + pruned) if last else None

        try:
            done = done + store.prune(part, step)
        except Conflict:
            event = record(done) if done.count else None
            if event is not None:
                store.append([event])
            raise
    return done


def purge(
    store: Store,
    catalog: Catalog,
    *,
    tenant_id: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    key: PublicKey | None = None,
    stretch: int = STRETCH,
    undelivered: bool = False,
) -> list[Plan]:
    """Purge every tenant (or one): plan each, then prune every verified expired event and
    record it. With ``dry_run`` only plan. Events a streaming destination has not received
    stay until it has, unless ``undelivered``: then they go too, and the purge's record says
    up to which seq the destinations had received them (the gap they will meet)."""
    moment = now or utcnow()
    if tenant_id is not None:
        tenant = store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        tenants = [tenant]
    else:
        tenants = store.list_tenants()
    plans = [plan(store, catalog, t, moment, key, undelivered) for t in tenants]
    if dry_run:
        return plans
    for found in plans:
        if found.order is None or not found.expired[0]:
            continue

        def record(pruned: Pruned, found: Plan = found) -> PreparedEvent | None:
            if not pruned.count:
                return None
            return purge_event(pruned, found.tenant, found.days, moment, catalog, found.gap)

        try:
            found.purged = prune_in_stretches(store, found.order, record, stretch)
        except Conflict as exc:  # a hold placed, or the chain changed, since the plan
            found.refused = str(exc)
    return plans


def purge_event(
    pruned: Pruned,
    tenant: Tenant,
    days: Mapping[str, int | None],
    now: datetime,
    catalog: Catalog,
    undelivered_after: int | None = None,
) -> PreparedEvent:
    """The ``retention.purge`` event that records ``pruned`` in the tenant's log (with
    ``undelivered_after``: the seq streaming destinations had received, when the operator
    purged what they had not)."""
    details: dict[str, Any] = {
        "retention_days": dict(days),
        "expired_before": {h: iso_utc(c) for h, c in cutoffs(days, now).items()},
    }
    if undelivered_after is not None and pruned.last_seq > undelivered_after:
        details["undelivered_after_seq"] = undelivered_after
    if pruned.partitions:
        details["partitions"] = list(pruned.partitions)
    params = {
        "count": pruned.count,
        "first_seq": pruned.first_seq,
        "last_seq": pruned.last_seq,
        "chain_start_seq": tenant.chain_start_seq,
        "chain_start_prev_hash": tenant.chain_start_hash,
    }
    return own_event(
        catalog, pruned.tenant, "retention.purge", SYSTEM_ACTOR, params, details=details
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
