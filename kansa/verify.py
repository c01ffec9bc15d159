"""Checking every tenant's chain in a store against the heads the store recorded."""

from __future__ import annotations

from collections.abc import Iterator

from kansa.chain import Break, Walk, verify
from kansa.store import Store


def verify_store(store: Store, tenant_id: str | None = None) -> Iterator[Walk]:
    """Walk each tenant's chain (or one tenant's). A chain that ends before the head the
    tenant record holds has lost its tail."""
    tenants = store.list_tenants()
    if tenant_id is not None:
        tenants = [t for t in tenants if t.id == tenant_id]
    for tenant in tenants:
        walk = verify(tenant.id, store.chain(tenant.id))
        if walk.broken is None and (walk.head_seq, walk.head_hash) != (
            tenant.last_seq,
            tenant.last_hash,
        ):
            walk.broken = Break(
                tenant.id,
                walk.head_seq + 1,
                f"chain ends at seq {walk.head_seq} but the tenant's head is seq "
                f"{tenant.last_seq} (events cut off the end)",
            )
        yield walk
