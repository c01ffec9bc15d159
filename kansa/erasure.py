"""Erasure of one person: the content of every event of a tenant in which they are the actor
or a target is removed on request, and the chain still verifies.

An erasure is a prune (see :mod:`kansa.retention`): each such event keeps its seq, hash,
previous hash, time, action and result and a commitment from which verify proves its link;
its bytes and every column carrying content go, with whatever else the event said (the other
people in it too: a half-event cannot keep its hash). The whole chain is verified first — an
erasure never hides tampering — and a tenant under legal hold is refused (409, naming the
hold). The erasure is recorded as ``privacy.erasure`` in the tenant's own log: who asked, the
reason, how many events and their seq range — never the person's id or the values erased.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from kansa.catalog import Catalog
from kansa.errors import Conflict, NotFound
from kansa.events.own import own_event
from kansa.events.prepare import PreparedEvent
from kansa.integrity.chain import StoredLink
from kansa.integrity.signing import PublicKey
from kansa.integrity.verify import verify_tenant
from kansa.retention import prune_in_stretches
from kansa.store import Store
from kansa.store.base import Prune, Pruned


def subject_seqs(links: Iterable[StoredLink], subject: str) -> frozenset[int]:
    """The seqs of the events (not pruned already) whose actor or any target has id
    ``subject``."""
    found: set[int] = set()
    for link in links:
        if link.pruned is None and _names(orjson.loads(link.body).get("event", {}), subject):
            found.add(link.seq)
    return frozenset(found)


def _names(event: Mapping[str, Any], subject: str) -> bool:
    actor = event.get("actor") or {}
    if actor.get("id") == subject:
        return True
    return any((target or {}).get("id") == subject for target in event.get("targets") or [])


def erase(
    store: Store,
    catalog: Catalog,
    tenant_id: str,
    subject: str,
    reason: str,
    actor: Mapping[str, Any],
    *,
    ip: str | None = None,
    key: PublicKey | None = None,
) -> Pruned:
    """Erase ``subject`` from ``tenant_id``'s events on ``actor``'s request, for ``reason``.
    NotFound for an unknown tenant; Conflict under legal hold or when the chain does not
    verify."""
    tenant = store.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    if tenant.legal_hold is not None:
        raise Conflict(f"tenant {tenant_id!r} is under legal hold: {tenant.legal_hold}")
    walk = verify_tenant(store, tenant_id, key)
    if walk.broken is not None:
        raise Conflict(f"not erasing: {walk.broken}")
    links = store.chain(tenant_id, tenant.chain_start_seq - 1, upto=walk.head_seq)
    order = Prune(
        tenant_id, walk.head_seq, walk.head_hash, "erasure", seqs=subject_seqs(links, subject)
    )

    def record(pruned: Pruned) -> PreparedEvent:
        params = {
            "count": pruned.count,
            "first_seq": pruned.first_seq or None,
            "last_seq": pruned.last_seq or None,
            "reason": reason,
        }
        return own_event(catalog, tenant_id, "privacy.erasure", actor, params, ip=ip)

    return prune_in_stretches(store, order, record)
