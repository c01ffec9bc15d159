"""Checking every tenant's chain in a store against the heads the store recorded, the signed
checkpoints, and the purges that moved its start — and everything else the store holds:
rows above a recorded head, rows of a tenant whose row is gone, and (PostgreSQL) the
idempotency keys of ``event_keys``."""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import orjson

from kansa.events.prepare import search_text
from kansa.integrity.chain import Break, StoredLink, Walk, verify
from kansa.integrity.rowwalk import PURGE_ACTION, Layout, walk_rows
from kansa.integrity.signing import Checkpoint, PublicKey
from kansa.records import Tenant
from kansa.store import Store
from kansa.store.rows import VERIFY_COLUMNS
from kansa.store.schema import PRUNED_TO_EMPTY, PRUNED_TO_NULL

DERIVED = {"search_text": search_text}
_NAMES = [column for column, _ in VERIFY_COLUMNS]
ROW_LAYOUT = Layout(
    paths=[path for _, path in VERIFY_COLUMNS],
    derived={"search_text": search_text},
    times=[_NAMES.index("occurred_at"), _NAMES.index("received_at")],
    content=[_NAMES.index(column) for column in (*PRUNED_TO_NULL, *PRUNED_TO_EMPTY)],
)
"""Where :meth:`~kansa.store.Store.chain_rows` keeps what the row walk reads."""


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

    Tenants are walked by ``workers`` processes of their own, each opening the store again
    (default: one a core, once there are :data:`PARALLEL_FROM` events to walk and the store
    is a file or a server); the walks come in tenant order all the same."""
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
    walk = verify_tenant(store, listed.id, key)
    if walk.broken is not None:  # a purge may have moved the start under the walk
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
    if asked is not None:
        return max(1, min(asked, len(tenants)))
    events = sum(t.last_seq - t.chain_start_seq + 1 for t in tenants)
    if events < PARALLEL_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, len(tenants)))


def _walk_apart(
    store: Store, url: str, tenants: Sequence[Tenant], key: Keys, count: int
) -> Iterator[Walk]:
    """The tenants' walks in tenant order, by this process and ``count - 1`` others: each
    tenant in turn goes to a process while they have fewer than two a process under way, and
    this one walks the next itself while the walk due next is not back. Walks done ahead
    wait in memory, at most :data:`AHEAD` of them."""
    pems = None if key is None else [k.pem() for k in trusted_keys(key).values()]
    context = multiprocessing.get_context("spawn")  # no fork of a process holding a pool
    done: dict[int, Walk | Future[Walk]] = {}
    given = due = 0
    with ProcessPoolExecutor(count - 1, mp_context=context) as pool:
        while due < len(tenants):
            away = sum(isinstance(w, Future) and not w.done() for w in done.values())
            if given < len(tenants) and given - due < AHEAD and away < 2 * (count - 1):
                done[given] = pool.submit(_walk_in_worker, url, tenants[given], pems)
                given += 1
                continue
            head = done[due]
            if isinstance(head, Future) and not head.done() and given - due < AHEAD:
                if given < len(tenants):
                    done[given] = _walk_tenant(store, tenants[given], key)
                    given += 1
                    continue
            walk = done.pop(due)
            yield walk.result() if isinstance(walk, Future) else walk
            due += 1


AHEAD = 1000
"""Walks done ahead of the one due next that ``verify_store`` keeps waiting at most."""


_opened: dict[str, Store] = {}
"""A worker process's store, opened at its first tenant and closed when it exits."""


def _walk_in_worker(url: str, listed: Tenant, pems: list[str] | None) -> Walk:
    store = _opened.get(url)
    if store is None:
        from kansa.store import open_store

        store = _opened[url] = open_store(url)
        multiprocessing.util.Finalize(None, store.close, exitpriority=10)
    keys = None if pems is None else [PublicKey.from_pem(pem.encode()) for pem in pems]
    return _walk_tenant(store, listed, keys)


ORPHANED = (
    "events, checkpoints or idempotency keys of this tenant are stored but its tenant row is "
    "gone (deleted behind kansa's back): nothing of it is served until the row is restored"
)


def verify_tenant(store: Store, tenant_id: str, key: Keys = None) -> Walk:
    trusted = trusted_keys(key)
    checkpoints = store.checkpoints(tenant_id) if trusted else []
    tenant = store.get_tenant(tenant_id)  # after the checkpoints: none lies beyond its head
    if tenant is None:
        return Walk(tenant_id, broken=Break(tenant_id, 0, "no such tenant"))
    signed = checkpoints
    before = _checkpoint_problem(tenant, checkpoints, trusted)
    if before is not None:
        return Walk(tenant.id, broken=before)
    start = tenant.chain_start_seq
    anchors = {c.seq: c.head_hash for c in signed if start <= c.seq <= tenant.last_seq}
    walked = walk_rows(
        tenant.id,
        store.chain_rows(tenant.id, start - 1, upto=tenant.last_seq),
        ROW_LAYOUT,
        start_seq=start,
        start_hash=tenant.chain_start_hash,
        anchors=anchors,
    )
    if walked is not None:
        walk, purges = walked.walk, _Purges(walked.purge_claim)
    else:  # a break, or a row the packed columns cannot vouch for: column by column
        purges = _Purges()
        links = purges.watch(store.chain(tenant.id, start - 1, upto=tenant.last_seq))
        walk = verify(
            tenant.id,
            links,
            start_seq=start,
            start_hash=tenant.chain_start_hash,
            derived=DERIVED,
            anchors=anchors,
        )
    if walk.broken is None:
        walk.broken = (
            _end_problem(tenant, walk, signed)
            or purges.problem(tenant)
            or _beyond_head(store, tenant)
            or _key_problem(store, tenant, walk)
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
