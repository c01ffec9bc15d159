"""Signing a tenant's chain: a checkpoint at its head (every N events or T minutes from
``kansa serve``, on demand from ``kansa checkpoint`` and the API) or at the last event of an
export, whose manifest it then carries.

kansa signs only what it knows to be its own chain. A head that this process's writer
committed is signed as written: the seq and hash the writer computed itself, checked against
the stored row — a row changed afterwards no longer leads to that hash, so ``kansa verify``
still finds it. Any other head (written by another process, or before a restart) is signed
only after the events since the previous checkpoint of the same key — or since the chain's
start — are walked, and a broken chain is refused. So a checkpoint never blesses a chain that
was changed after the last one.

Nor does it sign a seq below the head over a chain that breaks after it: the events from
there to the tenant's head are walked too, against every later checkpoint of the key, so a
stretch rewritten consistently up to some seq (but no further) is refused rather than
blessed by a new checkpoint or an export's manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kansa.errors import Conflict, IntegrityError, InvalidInput, NotFound, Problem
from kansa.integrity.chain import Break, verify
from kansa.integrity.files import sign_manifest
from kansa.integrity.signing import Checkpoint, PublicKey, Signer
from kansa.integrity.verify import DERIVED
from kansa.records import Tenant
from kansa.store import Store
from kansa.timeutil import utcnow

ANCHOR_LOOKBACK = 20
"""How many of the newest earlier checkpoints are searched for one signed by this key."""


def sign_checkpoint(
    store: Store,
    signer: Signer,
    tenant_id: str,
    *,
    seq: int | None = None,
    now: datetime | None = None,
) -> Checkpoint:
    """Sign the tenant's chain at ``seq`` (default: its head) and keep the checkpoint; an
    existing checkpoint of this key at that seq is returned as it is."""
    tenant = store.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    target = tenant.last_seq if seq is None else seq
    if tenant.last_seq == 0:
        raise Conflict(f"tenant {tenant_id!r} has no events to sign")
    if not tenant.chain_start_seq <= target <= tenant.last_seq:
        raise InvalidInput(
            [Problem("seq", f"must lie in the chain: {tenant.chain_start_seq}-{tenant.last_seq}")]
        )
    earlier = store.checkpoints(
        tenant_id, before=target + 1, limit=ANCHOR_LOOKBACK, newest_first=True
    )
    if earlier and earlier[0].seq == target:
        return _same_key(store, earlier[0], signer)
    start_seq, start_hash = _anchor(tenant, earlier, signer)
    walk = verify(
        tenant_id,
        store.chain(tenant_id, start_seq - 1, upto=target),
        start_seq=start_seq,
        start_hash=start_hash,
        derived=DERIVED,
    )
    if walk.broken is not None:
        raise IntegrityError(f"not signing: {walk.broken}")
    if walk.head_seq != target or (seq is None and walk.head_hash != tenant.last_hash):
        raise IntegrityError(
            f"not signing: tenant {tenant_id}: the chain ends at seq {walk.head_seq}, "
            f"its recorded head is seq {tenant.last_seq} (events cut off the end)"
        )
    problem = rest_of_chain(store, tenant, target, walk.head_hash, signer.public_key)
    if problem is not None:
        raise IntegrityError(f"not signing seq {target}: {problem}")
    checkpoint = signer.checkpoint(tenant_id, target, walk.head_hash, now or utcnow())
    return store.add_checkpoint(checkpoint)


def sign_written(
    store: Store,
    signer: Signer,
    tenant_id: str,
    seq: int,
    hash_: str,
    *,
    now: datetime | None = None,
) -> Checkpoint:
    """Sign the event at ``seq`` whose hash kansa itself computed when it appended it
    (``hash_``), without walking the chain up to it: the stored row must still carry that
    hash, and the checkpoint then fixes every event before it too."""
    tenant = store.get_tenant(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    if not tenant.chain_start_seq <= seq <= tenant.last_seq:
        raise Conflict(f"tenant {tenant_id}: seq {seq} is no longer in the chain")
    stored = list(store.chain(tenant_id, seq - 1, upto=seq))
    if not stored or stored[0].seq != seq:
        raise IntegrityError(f"not signing: tenant {tenant_id}: seq {seq} is missing")
    if stored[0].hash != hash_:
        raise IntegrityError(
            f"not signing: tenant {tenant_id}: seq {seq} was changed after it was written"
        )
    existing = store.checkpoints(tenant_id, before=seq + 1, limit=1, newest_first=True)
    if existing and existing[0].seq == seq:
        return _same_key(store, existing[0], signer)
    return store.add_checkpoint(signer.checkpoint(tenant_id, seq, hash_, now or utcnow()))


def rest_of_chain(
    store: Store, tenant: Tenant, seq: int, hash_: str, key: PublicKey | None
) -> Break | None:
    """Whether the events after ``seq`` (whose hash is ``hash_``) up to the tenant's recorded
    head link on from it and agree with every later checkpoint ``key`` signed: None when they
    do, else the first break. What is signed or removed at ``seq`` is then supported by the
    whole chain, not only by the stretch before it."""
    if seq >= tenant.last_seq:
        return None
    later = store.checkpoints(tenant.id, before=tenant.last_seq + 1) if key is not None else []
    anchors: dict[int, str] = {}
    for checkpoint in later:
        if checkpoint.seq <= seq or key is None or checkpoint.key_id != key.key_id:
            continue
        if not key.checks(checkpoint):
            return Break(tenant.id, checkpoint.seq, "its signed checkpoint does not verify")
        anchors[checkpoint.seq] = checkpoint.head_hash
    walk = verify(
        tenant.id,
        store.chain(tenant.id, seq, upto=tenant.last_seq),
        start_seq=seq + 1,
        start_hash=hash_,
        derived=DERIVED,
        anchors=anchors,
    )
    if walk.broken is not None:
        return walk.broken
    if walk.head_seq != tenant.last_seq or walk.head_hash != tenant.last_hash:
        return Break(
            tenant.id,
            walk.head_seq + 1,
            f"the chain ends at seq {walk.head_seq}, not at its recorded head seq "
            f"{tenant.last_seq}",
        )
    return None


def _same_key(store: Store, existing: Checkpoint, signer: Signer) -> Checkpoint:
    """The checkpoint kept at a seq: of this key, or of a key the database registered
    before a rotation replaced it (checked with that key)."""
    if existing.key_id != signer.key_id:
        replaced = next((k for k in store.signing_keys() if k.key_id == existing.key_id), None)
        if replaced is not None:
            if not PublicKey.from_pem(replaced.public_key.encode()).checks(existing):
                raise IntegrityError(
                    f"tenant {existing.tenant}: the checkpoint at seq {existing.seq} does not "
                    "verify"
                )
            return existing
        raise Conflict(
            f"tenant {existing.tenant}: seq {existing.seq} has a checkpoint of key "
            f"{existing.key_id}, not of the current key {signer.key_id}"
        )
    if not signer.public_key.checks(existing):
        raise IntegrityError(
            f"tenant {existing.tenant}: the checkpoint at seq {existing.seq} does not verify"
        )
    return existing


def _anchor(tenant: Tenant, earlier: Iterable[Checkpoint], signer: Signer) -> tuple[int, str]:
    """Where the walk before signing starts: after the newest earlier checkpoint of this key
    still in the chain, else at the chain's start."""
    for checkpoint in earlier:
        if checkpoint.seq < tenant.chain_start_seq - 1:
            break
        if checkpoint.key_id != signer.key_id:
            continue
        if not signer.public_key.checks(checkpoint):
            raise IntegrityError(
                f"tenant {tenant.id}: the checkpoint at seq {checkpoint.seq} does not verify"
            )
        return checkpoint.seq + 1, checkpoint.head_hash
    return tenant.chain_start_seq, tenant.chain_start_hash


def is_due(tenant: Tenant, now: datetime, every_events: int, every_minutes: float) -> bool:
    """Whether ``kansa serve`` should sign the tenant's head now: events came since its last
    checkpoint, and there are ``every_events`` of them or the checkpoint is ``every_minutes``
    old (a tenant's first events are signed at once)."""
    signed = max(tenant.checkpoint_seq, tenant.chain_start_seq - 1)
    if tenant.last_seq <= signed:
        return False
    if tenant.last_seq - signed >= every_events or tenant.checkpoint_at is None:
        return True
    return now - tenant.checkpoint_at >= timedelta(minutes=every_minutes)


@dataclass(slots=True)
class Signed:
    """What one round of signing did."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def sign_heads(
    store: Store,
    signer: Signer,
    tenants: Iterable[Tenant],
    now: datetime | None = None,
    written: Mapping[str, tuple[int, str]] | None = None,
    max_walk: int | None = None,
) -> Signed:
    """Sign the head of each of ``tenants`` that has events beyond its last checkpoint; a
    tenant whose chain does not verify is refused (and named) rather than signed.

    ``written`` holds the heads this process committed itself (seq, hash per tenant): those
    are signed as written, without a walk. Otherwise the chain is walked, at most
    ``max_walk`` events a round (the checkpoint then lands where the walk stopped, and the
    next round goes on from there)."""
    done = Signed()
    for tenant in tenants:
        signed = max(tenant.checkpoint_seq, tenant.chain_start_seq - 1)
        if tenant.last_seq <= signed:
            continue
        own = (written or {}).get(tenant.id)
        try:
            if own is not None and own[0] > signed:
                checkpoint = sign_written(store, signer, tenant.id, *own, now=now)
            else:
                upto = None
                if max_walk is not None and signed + max_walk < tenant.last_seq:
                    upto = signed + max_walk
                checkpoint = sign_checkpoint(store, signer, tenant.id, seq=upto, now=now)
        except (IntegrityError, Conflict) as exc:
            done.refused.append(str(exc))
        else:
            done.checkpoints.append(checkpoint)
    return done


def manifest_line(
    store: Store,
    signer: Signer,
    tenant: str,
    first: int,
    last: int,
    now: datetime | None = None,
) -> bytes:
    """The manifest line (no line break) that ends an export of seq ``first``…``last`` of
    ``tenant``'s chain, with the signed checkpoint at ``last`` (signed now if there is none)."""
    record = store.get_tenant(tenant)
    if record is None:
        raise NotFound(f"no tenant {tenant!r}")
    if not record.chain_start_seq <= first <= last <= record.last_seq:
        raise InvalidInput(
            [
                Problem(
                    "seq",
                    f"an export's range {first}-{last} must be non-empty and lie in the chain "
                    f"({record.chain_start_seq}-{record.last_seq})",
                )
            ]
        )
    moment = now or utcnow()
    checkpoint = sign_checkpoint(store, signer, tenant, seq=last, now=moment)
    opening = list(store.chain(tenant, first - 1, upto=first))
    if not opening:
        raise IntegrityError(f"tenant {tenant}: seq {first} is missing")
    manifest = sign_manifest(
        signer, checkpoint, first_seq=first, first_prev_hash=opening[0].prev_hash, now=moment
    )
    return manifest.line()
