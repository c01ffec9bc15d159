"""Signed checkpoints in the database: signed only over a chain that verifies, and what
``verify`` then finds that the chain alone cannot — on every engine. Tampering is done as an
attacker with database access would: triggers taken out of the way, the chain rewritten."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from kansa.catalog import Catalog
from kansa.errors import IntegrityError
from kansa.events.prepare import prepare
from kansa.integrity.chain import GENESIS
from kansa.integrity.checkpoints import is_due, manifest_line, sign_checkpoint, sign_heads
from kansa.integrity.signing import Signer
from kansa.integrity.verify import verify_store
from kansa.records import Tenant
from kansa.store import Store
from tests.helpers import intact, pca_event
from tests.raw import execute, rewrite_from

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


def five(store: Store, catalog: Catalog, tenant: str) -> None:
    store.append(prepare([pca_event(tenant, n) for n in range(1, 6)], catalog))


def test_a_checkpoint_signs_the_head_once_and_verify_checks_it(
    store: Store, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    five(store, catalog, tenant_id)
    first = sign_checkpoint(store, signer, tenant_id)
    assert (first.seq, first.head_hash) == (5, list(store.chain(tenant_id))[-1].hash)
    assert sign_checkpoint(store, signer, tenant_id) == first
    tenant = store.get_tenant(tenant_id)
    assert tenant is not None and tenant.checkpoint_seq == 5 and tenant.checkpoint_at is not None
    store.append(prepare([pca_event(tenant_id, 6)], catalog))
    assert sign_checkpoint(store, signer, tenant_id).seq == 6
    assert [c.seq for c in store.checkpoints(tenant_id)] == [5, 6]
    assert [c.seq for c in store.checkpoints(tenant_id, newest_first=True, limit=1)] == [6]
    walk = intact(store, tenant_id, signer.public_key)
    assert walk.checked == 6 and walk.anchors == 2


def test_kansa_refuses_to_sign_a_chain_that_does_not_verify(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    five(store, catalog, tenant_id)
    sign_checkpoint(store, signer, tenant_id, seq=2)
    execute(
        store_url,
        "UPDATE events SET actor_name = 'x' WHERE tenant_id = ? AND seq = 4",
        tenant_id,
        bypass_triggers=True,
    )
    with pytest.raises(IntegrityError, match="not signing: .*seq 4"):
        sign_checkpoint(store, signer, tenant_id)
    done = sign_heads(store, signer, [_tenant(store, tenant_id)])
    assert done.checkpoints == [] and "seq 4" in done.refused[0]


def test_a_rewritten_chain_contradicts_its_signed_checkpoint(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    five(store, catalog, tenant_id)
    sign_checkpoint(store, signer, tenant_id, seq=2)
    sign_checkpoint(store, signer, tenant_id, seq=5)
    rewrite_from(store, store_url, tenant_id, 3)
    intact(store, tenant_id)  # the chain alone cannot tell
    (walk,) = verify_store(store, tenant_id, signer.public_key)
    assert walk.broken is not None and walk.broken.seq == 5, walk.broken
    assert "signed checkpoint at seq 5: an event of seq 3-5 was changed" in walk.broken.reason


def test_a_tail_cut_off_with_the_head_record_is_found_by_the_checkpoint(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    five(store, catalog, tenant_id)
    sign_checkpoint(store, signer, tenant_id)
    third = list(store.chain(tenant_id))[2]
    execute(
        store_url,
        "DELETE FROM events WHERE tenant_id = ? AND seq > 3",
        tenant_id,
        bypass_triggers=True,
    )
    execute(
        store_url,
        "UPDATE tenants SET last_seq = 3, last_hash = ? WHERE id = ?",
        third.hash,
        tenant_id,
    )
    intact(store, tenant_id)  # the chain alone cannot tell
    (walk,) = verify_store(store, tenant_id, signer.public_key)
    assert walk.broken is not None and walk.broken.seq == 4
    assert "signed checkpoint is at seq 5 (events cut off the end)" in walk.broken.reason


def test_a_forged_checkpoint_is_found_and_another_keys_is_reported_not_skipped(
    store: Store, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    five(store, catalog, tenant_id)
    head = list(store.chain(tenant_id))
    other = Signer.generate()
    store.add_checkpoint(other.checkpoint(tenant_id, 2, head[1].hash, NOW))
    (walk,) = verify_store(store, tenant_id, signer.public_key)
    assert walk.broken is not None and walk.broken.seq == 2
    assert f"signed by key id {other.key_id}, a key this database does not know" in (
        walk.broken.reason
    )
    walk = intact(store, tenant_id, [signer.public_key, other.public_key])
    assert walk.anchors == 1, "trusted when given"
    real = signer.checkpoint(tenant_id, 4, head[3].hash, NOW)
    store.add_checkpoint(dataclasses.replace(real, head_hash="1" * 64))
    (walk,) = verify_store(store, tenant_id, [signer.public_key, other.public_key])
    assert walk.broken is not None and walk.broken.seq == 4
    assert "checkpoint at seq 4 does not verify" in walk.broken.reason


def test_a_checkpoint_whose_key_id_was_edited_is_reported(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    five(store, catalog, tenant_id)
    sign_checkpoint(store, signer, tenant_id)
    execute(
        store_url,
        "UPDATE checkpoints SET key_id = 'ffffffffffffffff' WHERE tenant_id = ?",
        tenant_id,
        bypass_triggers=True,
    )
    (walk,) = verify_store(store, tenant_id, signer.public_key)
    assert walk.broken is not None and "key id ffffffffffffffff" in walk.broken.reason


def _tenant(store: Store, tenant_id: str) -> Tenant:
    found = store.get_tenant(tenant_id)
    assert found is not None
    return found


def test_is_due_after_n_events_or_t_minutes() -> None:
    now = NOW
    base = Tenant("t", None, None, "UTC", "ja", now, last_seq=0, last_hash=GENESIS)

    def tenant(last: int, signed: int, minutes_ago: float | None) -> Tenant:
        at = now - timedelta(minutes=minutes_ago) if minutes_ago is not None else None
        return dataclasses.replace(base, last_seq=last, checkpoint_seq=signed, checkpoint_at=at)

    assert not is_due(tenant(0, 0, None), now, 100, 10)  # nothing to sign
    assert is_due(tenant(3, 0, None), now, 100, 10)  # a tenant's first events: at once
    assert not is_due(tenant(50, 10, 1), now, 100, 10)
    assert is_due(tenant(110, 10, 1), now, 100, 10)  # N events
    assert is_due(tenant(11, 10, 11), now, 100, 10)  # T minutes
    assert not is_due(tenant(10, 10, 60), now, 100, 10)  # nothing new


def test_a_head_kansa_wrote_is_signed_as_written_and_a_row_changed_since_is_refused(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    (receipt,) = store.append(prepare([pca_event(tenant_id, 1)], catalog))
    five(store, catalog, f"{tenant_id}-x")  # another tenant's events are not touched
    written = {tenant_id: (receipt.seq, receipt.hash)}
    done = sign_heads(store, signer, [_tenant(store, tenant_id)], written=written)
    assert [(c.seq, c.head_hash) for c in done.checkpoints] == [(1, receipt.hash)]
    (receipt,) = store.append(prepare([pca_event(tenant_id, 2)], catalog))
    execute(
        store_url,
        "UPDATE events SET hash = ? WHERE tenant_id = ? AND seq = 2",
        "0" * 64,
        tenant_id,
        bypass_triggers=True,
    )
    done = sign_heads(
        store, signer, [_tenant(store, tenant_id)], written={tenant_id: (2, receipt.hash)}
    )
    assert done.checkpoints == [] and "seq 2 was changed after it was written" in done.refused[0]


def test_a_long_unsigned_tail_is_walked_and_signed_in_steps(
    store: Store, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 8)], catalog))
    rounds = [
        [
            c.seq
            for c in sign_heads(store, signer, [_tenant(store, tenant_id)], max_walk=3).checkpoints
        ]
        for _ in range(4)
    ]
    assert rounds == [[3], [6], [7], []]
    walk = intact(store, tenant_id, signer.public_key)
    assert walk.anchors == 3


def test_a_seq_below_a_break_is_not_signed_nor_exported(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    """Events 5-20 rewritten consistently, 21 left on: the chain up to 20 verifies alone,
    but kansa signs nothing at 20 (no checkpoint, no export manifest) since 21 does not
    link on from it."""
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 26)], catalog))
    sign_checkpoint(store, signer, tenant_id, seq=4)
    rewrite_from(store, store_url, tenant_id, 5, upto=20)
    (walk,) = verify_store(store, tenant_id, signer.public_key)
    assert walk.broken is not None and walk.broken.seq == 21
    with pytest.raises(IntegrityError, match="not signing seq 20: .*seq 21"):
        sign_checkpoint(store, signer, tenant_id, seq=20)
    with pytest.raises(IntegrityError, match="seq 21"):
        manifest_line(store, signer, tenant_id, 1, 20)
    assert [c.seq for c in store.checkpoints(tenant_id)] == [4]


def test_a_seq_below_a_later_checkpoint_is_signed_only_if_that_checkpoint_agrees(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    """The whole tail rewritten, head record included: the chain links on to the head, but
    the checkpoint signed at 25 before the rewrite contradicts it, so 20 is not signed."""
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 26)], catalog))
    sign_checkpoint(store, signer, tenant_id, seq=4)
    sign_checkpoint(store, signer, tenant_id, seq=25)
    assert sign_checkpoint(store, signer, tenant_id, seq=10).seq == 10
    rewrite_from(store, store_url, tenant_id, 15)
    with pytest.raises(IntegrityError, match="signed checkpoint at seq 25"):
        sign_checkpoint(store, signer, tenant_id, seq=20)
    assert [c.seq for c in store.checkpoints(tenant_id)] == [4, 10, 25]
