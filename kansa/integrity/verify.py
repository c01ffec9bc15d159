"""Checking every tenant's chain in a store against the heads the store recorded, the signed
checkpoints, and the purges that moved its start — and everything else the store holds:
rows above a recorded head, rows of a tenant whose row is gone, and (PostgreSQL) the
idempotency keys of ``event_keys``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import orjson

from kansa.events.prepare import search_text
from kansa.integrity.chain import Break, StoredLink, Walk, verify
from kansa.integrity.rowwalk import PURGE_ACTION
from kansa.integrity.signing import Checkpoint, PublicKey
from kansa.integrity.slices import (
    ROW_LAYOUT,
    SLICE,
    Slice,
    Sliced,
    joined,
    keys_agree,
    slices,
    walk_apart,
    walk_slice,
)
from kansa.records import Tenant
from kansa.store import Store

DERIVED = {"search_text": search_text}
__all__ = ["DERIVED", "ROW_LAYOUT", "trusted_keys", "verify_store", "verify_tenant"]


Keys = PublicKey | Sequence[PublicKey] | None
"""The public keys whose checkpoints verify trusts: one, several (a key and the ones it
replaced), or none (checkpoints are then not checked at all)."""


def verify_store(
    store: Store, tenant_id: str | None = None, key: Keys = None, *, workers: int | None = None
) -> Iterator[Walk]:
    """Walk each tenant's chain (or one tenant's) from where it begins up to the head its
    tenant record held when the walk began — events appended meanwhile are left for the next
    walk. A chain that ends before that head has lost its tail.

    With ``key`` (one or several), the tenant's checkpoints are checked too: a bad signature,
    an event whose hash differs from a checkpoint at its seq, or a checkpoint beyond the head
    (a tail cut off together with the head record) break the chain, and so does a checkpoint
    of a key id verify was not given (another key, or a key id edited): it is reported, never
    skipped.

    Rows above the head the tenant records, a tenant's key rows that disagree with its
    events, and events or checkpoints of a tenant that has no row (deleted) are breaks too.

    Chains are walked by ``workers`` processes of their own, each opening the store again
    (default: one a core, once there are :data:`PARALLEL_FROM` events to walk and the store
    is a file or a server), in slices of their seqs shared between the processes; the
    walks come in tenant order all the same."""
    tenants = store.list_tenants()
    orphans = store.orphan_tenants()
    if tenant_id is not None:
        tenants = [t for t in tenants if t.id == tenant_id]
        orphans = [o for o in orphans if o == tenant_id]
    url = _reopenable(store)
    count = _workers(tenants, workers) if url is not None else 1
    if count > 1 and url is not None:
        yield from _walk_apart(store, url, tenants, key, count)
    else:
        for listed in tenants:
            yield _walk_tenant(store, listed, key)
    for orphan in orphans:
        yield Walk(orphan, broken=Break(orphan, 1, ORPHANED))


PARALLEL_FROM = 20_000
"""Events to walk from which ``verify_store`` starts processes (each costs a second or so)."""


def _walk_tenant(store: Store, listed: Tenant, key: Keys) -> Walk:
    return _again(store, listed, key, verify_tenant(store, listed.id, key))


def _again(store: Store, listed: Tenant, key: Keys, walk: Walk) -> Walk:
    """``walk`` of the tenant ``listed``, or a walk again if it broke while a purge moved
    the chain's start under it."""
    if walk.broken is not None:
        again = store.get_tenant(listed.id)
        if again is not None and again.chain_start_seq != listed.chain_start_seq:
            walk = verify_tenant(store, listed.id, key)
    return walk


def _reopenable(store: Store) -> str | None:
    """The URL another process opens the same database by (None: an in-memory one)."""
    url = getattr(store, "url", None)
    if not isinstance(url, str) or url.startswith("sqlite") and ":memory:" in url:
        return None
    return url


def _workers(tenants: Sequence[Tenant], asked: int | None) -> int:
    """Processes to walk ``tenants`` by: as many as asked or one a core, at most one a
    slice, and one below :data:`PARALLEL_FROM` events unless asked."""
    events = [max(0, t.last_seq - t.chain_start_seq + 1) for t in tenants]
    pieces = sum(max(1, -(-n // SLICE)) for n in events)
    if asked is None and sum(events) < PARALLEL_FROM:
        return 1
    return max(1, min(asked if asked is not None else os.cpu_count() or 1, pieces))


def _walk_apart(
    store: Store, url: str, tenants: Sequence[Tenant], key: Keys, count: int
) -> Iterator[Walk]:
    """The tenants' walks in tenant order, their chains walked in slices by this process
    and ``count - 1`` others (:func:`~kansa.integrity.slices.walk_apart`); each tenant's
    checkpoints are checked here first, its slices joined and its end checked here after."""
    planned = [_planned(store, listed.id, key) for listed in tenants]
    parts = [part for plan in planned if isinstance(plan, _Plan) for part in plan.slices]
    walks = walk_apart(store, url, parts, count)
    for listed, plan in zip(tenants, planned, strict=True):
        if isinstance(plan, Walk):
            yield _again(store, listed, key, plan)
            continue
        yield _again(store, listed, key, _finished(store, plan, [next(walks) for _ in plan.slices]))


ORPHANED = (
    "events, checkpoints or idempotency keys of this tenant are stored but its tenant row is "
    "gone (deleted behind kansa's back): nothing of it is served until the row is restored"
)


def verify_tenant(store: Store, tenant_id: str, key: Keys = None) -> Walk:
    plan = _planned(store, tenant_id, key)
    if isinstance(plan, Walk):
        return plan
    return _finished(store, plan, [walk_slice(store, part) for part in plan.slices])


@dataclass(frozen=True, slots=True)
class _Plan:
    """A tenant whose checkpoints hold, as read after them, and the slices of its chain."""

    tenant: Tenant
    signed: list[Checkpoint]
    anchors: dict[int, str]
    slices: list[Slice]


def _planned(store: Store, tenant_id: str, key: Keys) -> _Plan | Walk:
    """The tenant's plan; or its walk, broken, where its checkpoints already break it."""
    trusted = trusted_keys(key)
    checkpoints = store.checkpoints(tenant_id) if trusted else []
    tenant = store.get_tenant(tenant_id)  # after the checkpoints: none lies beyond its head
    if tenant is None:
        return Walk(tenant_id, broken=Break(tenant_id, 0, "no such tenant"))
    before = _checkpoint_problem(tenant, checkpoints, trusted)
    if before is not None:
        return Walk(tenant.id, broken=before)
    start = tenant.chain_start_seq
    anchors = {c.seq: c.head_hash for c in checkpoints if start <= c.seq <= tenant.last_seq}
    parts = slices(tenant.id, start, tenant.chain_start_hash, tenant.last_seq, anchors)
    return _Plan(tenant, checkpoints, anchors, parts)


def _finished(store: Store, plan: _Plan, walks: list[Sliced]) -> Walk:
    """The tenant's walk from the row walks of its chain's slices, or, where they could not
    vouch for it (a break, or a row the packed columns cannot vouch for), column by column;
    then its end, purges, rows beyond its head and idempotency keys checked (the keys over
    the whole chain again only where a slice found them disagreeing, to name the first)."""
    tenant, start = plan.tenant, plan.tenant.chain_start_seq
    walked = joined(walks)
    if walked is not None:
        walk, purges = walked.walk, _Purges(walked.purge_claim)
    else:
        purges = _Purges()
        links = purges.watch(store.chain(tenant.id, start - 1, upto=tenant.last_seq))
        walk = verify(
            tenant.id,
            links,
            start_seq=start,
            start_hash=tenant.chain_start_hash,
            derived=DERIVED,
            anchors=plan.anchors,
        )
    if walk.broken is None:
        walk.broken = (
            _end_problem(tenant, walk, plan.signed)
            or purges.problem(tenant)
            or _beyond_head(store, tenant)
            or (None if keys_agree(walks) else _key_problem(store, tenant, walk))
        )
    return walk


def _beyond_head(store: Store, tenant: Tenant) -> Break | None:
    """Rows above the recorded head: read before the head is read again, so an append that
    commits meanwhile (rows and head together) is never taken for one."""
    stored = store.last_stored_seq(tenant.id)
    again = store.get_tenant(tenant.id)
    head = again.last_seq if again is not None else tenant.last_seq
    if stored <= head:
        return None
    return Break(
        tenant.id,
        head + 1,
        f"rows up to seq {stored} lie above the tenant's recorded head, seq {head} (written "
        "behind kansa's back; never served to readers)",
    )


def _key_problem(store: Store, tenant: Tenant, walk: Walk) -> Break | None:
    found = store.key_problem(tenant.id, tenant.chain_start_seq, walk.head_seq)
    if found is None:
        return None
    seq, what = found
    reasons = {
        "missing": f"the event at seq {seq} has no idempotency key row",
        "changed": f"the idempotency key row of the event at seq {seq} disagrees with it",
    }
    reason = reasons.get(what, f"an idempotency key row names seq {seq} but no such event")
    return Break(
        tenant.id,
        seq,
        f"{reason} (event_keys changed: a resent event would be stored twice or refused)",
    )


def trusted_keys(key: Keys) -> dict[str, PublicKey]:
    """The keys given, by key id."""
    keys = [] if key is None else [key] if isinstance(key, PublicKey) else list(key)
    return {k.key_id: k for k in keys}


def _checkpoint_problem(
    tenant: Tenant, signed: list[Checkpoint], trusted: Mapping[str, PublicKey]
) -> Break | None:
    start = tenant.chain_start_seq
    for checkpoint in signed:
        key = trusted.get(checkpoint.key_id)
        if key is None:
            return Break(
                tenant.id,
                checkpoint.seq,
                f"the checkpoint at seq {checkpoint.seq} is signed by key id "
                f"{checkpoint.key_id}, a key this database does not know (not registered, "
                "nor given with --key; or its key id changed): give its public key too if it "
                "is to be trusted",
            )
        if not key.checks(checkpoint):
            return Break(
                tenant.id,
                checkpoint.seq,
                f"the checkpoint at seq {checkpoint.seq} does not verify (forged or changed)",
            )
        if checkpoint.seq == start - 1 and checkpoint.head_hash != tenant.chain_start_hash:
            return Break(
                tenant.id,
                start,
                f"the chain's recorded start contradicts the signed checkpoint at seq "
                f"{checkpoint.seq} (start changed)",
            )
    return None


def _end_problem(tenant: Tenant, walk: Walk, signed: list[Checkpoint]) -> Break | None:
    if (walk.head_seq, walk.head_hash) != (tenant.last_seq, tenant.last_hash):
        return Break(
            tenant.id,
            walk.head_seq + 1,
            f"chain ends at seq {walk.head_seq} but the tenant's head is seq "
            f"{tenant.last_seq} (events cut off the end)",
        )
    beyond = [c.seq for c in signed if c.seq > tenant.last_seq]
    if beyond:
        return Break(
            tenant.id,
            tenant.last_seq + 1,
            f"chain ends at seq {tenant.last_seq} but a signed checkpoint is at seq "
            f"{max(beyond)} (events cut off the end)",
        )
    return None


@dataclass(slots=True)
class _Purges:
    """The chain start the last ``retention.purge`` event walked over says it left."""

    claim: tuple[int, str] | None = None

    def watch(self, links: Iterable[StoredLink]) -> Iterator[StoredLink]:
        for link in links:
            if link.pruned is None and (
                (link.columns.get("product"), link.columns.get("action")) == PURGE_ACTION
            ):
                params = orjson.loads(link.body).get("event", {}).get("params", {})
                self.claim = (params.get("chain_start_seq"), params.get("chain_start_prev_hash"))
            yield link

    def problem(self, tenant: Tenant) -> Break | None:
        """A chain that starts after seq 1 must say so in its last purge event."""
        start = (tenant.chain_start_seq, tenant.chain_start_hash)
        if start[0] == 1 and self.claim is None:
            return None
        if self.claim == start:
            return None
        return Break(
            tenant.id,
            start[0],
            f"the chain starts at seq {start[0]} but its last retention.purge event "
            f"{'says ' + str(self.claim[0]) if self.claim else 'is missing'} "
            "(events removed outside a purge)",
        )
