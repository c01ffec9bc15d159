"""A stretch of one tenant's chain made into a batch: read, checked link by link, its last
event signed (a checkpoint kansa computes from the rows it just walked), and — when nothing is
filtered out — an export's signed manifest. One function for the push worker and the pull
route (``GET /api/v1/stream``), so both carry the same proof."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kansa.errors import IntegrityError
from kansa.integrity.chain import StoredLink, digest
from kansa.integrity.checkpoints import sign_written
from kansa.integrity.files import sign_manifest
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Filter

PULL = "pull"
"""The destination named in the ids of pulled batches."""


def build(
    store: Store,
    signer: Signer,
    *,
    destination: str,
    tenant: str,
    after: int,
    last: int,
    filter: Filter,
    now: datetime,
) -> Batch:
    """The batch of seq ``after + 1``…``last`` of ``tenant``."""
    first = after + 1
    links = list(store.chain(tenant, after, upto=last))
    if not links or links[0].seq != first or links[-1].seq != last:
        raise IntegrityError(f"tenant {tenant}: seq {first}-{last} are not all stored")
    _check_links(tenant, links)
    _check_opening(store, tenant, after, links[0].prev_hash)
    checkpoint = sign_written(store, signer, tenant, last, links[-1].hash, now=now)
    manifest = None
    if filter.everything:
        manifest = sign_manifest(
            signer, checkpoint, first_seq=first, first_prev_hash=links[0].prev_hash, now=now
        ).line()
    return Batch(
        destination=destination,
        tenant=tenant,
        first_seq=first,
        last_seq=last,
        previous_last_seq=after,
        links=links if filter.everything else [x for x in links if filter.matches(x.columns)],
        filtered=not filter.everything,
        checkpoint=checkpoint,
        manifest=manifest,
    )


def _check_links(tenant: str, links: Sequence[StoredLink]) -> None:
    """Each stored line still gives its hash and names the hash before it: what a receiver
    checks. (The columns kept beside the lines are not sent, so they are not compared here;
    ``kansa verify`` does that on the database.)"""
    previous = links[0].prev_hash
    for link in links:
        if digest(link.body) != link.hash:
            raise IntegrityError(f"not delivering: tenant {tenant}: seq {link.seq} was changed")
        if link.prev_hash != previous:
            raise IntegrityError(
                f"not delivering: tenant {tenant}: seq {link.seq} does not link to the one before"
            )
        previous = link.hash


def _check_opening(store: Store, tenant: str, after: int, prev_hash: str) -> None:
    """The stretch must go on from the checkpoint at ``after`` (when there is one): a
    receiver's copy then links up across batches."""
    before = store.checkpoints(tenant, before=after + 1, limit=1, newest_first=True)
    if before and before[0].seq == after and before[0].head_hash != prev_hash:
        raise IntegrityError(
            f"not delivering: tenant {tenant}: seq {after + 1} does not link to the "
            f"checkpoint at seq {after}"
        )
