"""Checking every tenant's chain in a store against the heads the store recorded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kansa.chain import Break, StoredLink, Walk, verify
from kansa.events import search_text
from kansa.store import Store

DERIVED = {"search_text": search_text}


def verify_store(store: Store, tenant_id: str | None = None) -> Iterator[Walk]:
    """Walk each tenant's chain (or one tenant's) up to the head its tenant record held when
    the walk began — events appended meanwhile are left for the next walk. A chain that ends
    before that head has lost its tail."""
    tenants = store.list_tenants()
    if tenant_id is not None:
        tenants = [t for t in tenants if t.id == tenant_id]
    for tenant in tenants:
        links = _upto(store.chain(tenant.id), tenant.last_seq)
        walk = verify(tenant.id, links, derived=DERIVED)
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


def _upto(links: Iterable[StoredLink], head: int) -> Iterator[StoredLink]:
    for link in links:
        if link.seq > head:
            return
        yield link
