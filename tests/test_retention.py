"""Retention on every engine: what a purge prunes (every expired event, wherever it sits, and
nothing else), what it records, that the chain still verifies, and legal holds."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest

from kansa import retention
from kansa.catalog import Catalog
from kansa.errors import Conflict, InvalidInput
from kansa.events.prepare import prepare
from kansa.events.query import Filters, Query
from kansa.events.stored import StoredEvent
from kansa.integrity.chain import GENESIS, StoredLink
from kansa.integrity.checkpoints import sign_checkpoint
from kansa.integrity.signing import Signer
from kansa.integrity.verify import verify_store
from kansa.records import TenantChanges
from kansa.store import Store, open_store
from kansa.timeutil import utcnow
from tests.helpers import actor_of, details_of, intact, pca_event
from tests.raw import execute, rewrite_from

OPERATOR = {"id": "operator:test", "name": "test", "type": "operator"}


def ago(days: float, now: datetime | None = None) -> str:
    return ((now or utcnow()) - timedelta(days=days)).isoformat()


def publish(store: Store, catalog: Catalog, tenant: str, *days_ago: float) -> None:
    """One PCA ID event per age (days), in that seq order. PCA ID keeps 730 days."""
    events = [pca_event(tenant, n, occurred_at=ago(d)) for n, d in enumerate(days_ago, 1)]
    store.append(prepare(events, catalog))


def recorded(store: Store, tenant: str, action: str) -> list[StoredEvent]:
    query = Query(tenant=tenant, filters=Filters(actions=(action,)), descending=False)
    return list(store.stream(query))


def test_the_products_retention_is_the_default_and_a_tenant_may_override_it(
    catalog: Catalog,
) -> None:
    # kansa's own history (access) is kept until the operator says otherwise (access=N)
    assert retention.defaults(catalog, "kddi-business-id") == {
        **dict.fromkeys(("login", "operation", "provisioning"), 365),
        "access": None,
    }
    assert retention.defaults(catalog, "pca-id") == {
        "login": 730,
        "operation": 730,
        "provisioning": None,
        "access": None,
    }
    for unlimited in ("microcms", "cybozu", None):
        assert set(retention.defaults(catalog, unlimited).values()) == {None}
    changes = retention.parse_overrides("login=90, operation=forever,provisioning=default")
    assert changes == {"login": 90, "operation": 0, "provisioning": None}
    assert retention.parse_overrides("access=365") == {"access": 365}
    assert retention.apply_overrides({"provisioning": 5}, changes) == {"login": 90, "operation": 0}
    for wrong in ("login", "login=soon", "history=3", ""):
        with pytest.raises(InvalidInput):
            retention.parse_overrides(wrong)


def test_a_purge_prunes_every_expired_event_wherever_it_sits_and_records_it(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    """Seq 4 has expired though seq 3 has not: it is pruned too, and keeps its place."""
    publish(store, catalog, tenant_id, 800, 790, 10, 785, 1)
    before = list(store.chain(tenant_id))
    (dry,) = retention.purge(store, catalog, tenant_id=tenant_id, dry_run=True)
    assert dry.expired == (3, 1, 4) and dry.purged is None
    assert len(list(store.stream(Query(tenant=tenant_id)))) == 5

    (done,) = retention.purge(store, catalog, tenant_id=tenant_id)
    assert done.purged is not None and done.purged.count == 3
    after = list(store.chain(tenant_id))
    assert [(link.seq, link.pruned) for link in after] == [
        (1, "retention"),
        (2, "retention"),
        (3, None),
        (4, "retention"),
        (5, None),
        (6, None),
    ]
    for old, new in zip(before, after, strict=False):
        assert (new.hash, new.prev_hash) == (old.hash, old.prev_hash)
        if new.pruned:
            assert new.body == b"" and set(new.columns.values()) <= {None, ""}
    left = [e["seq"] for e in store.stream(Query(tenant=tenant_id, descending=False))]
    assert left == [3, 5, 6]
    assert store.get_event(tenant_id, str(actor_of_seq(before, 1))) is None
    (event,) = recorded(store, tenant_id, "retention.purge")
    assert event["seq"] == 6 and actor_of(event)["id"] == "kansa"
    assert event["params"] == {
        "count": 3,
        "first_seq": 1,
        "last_seq": 4,
        "chain_start_seq": 1,
        "chain_start_prev_hash": GENESIS,
    }
    assert details_of(event)["retention_days"]["operation"] == 730
    assert event["message"]["en"] == "Purged 3 expired events (seq 1–4)"
    walk = intact(store, tenant_id)
    assert (walk.checked, walk.pruned) == (6, 3)
    (again,) = retention.purge(store, catalog, tenant_id=tenant_id)
    assert again.count == 0 and again.purged is None
    assert len(recorded(store, tenant_id, "retention.purge")) == 1


def test_a_long_purge_goes_a_stretch_per_transaction_and_records_it_once(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    publish(store, catalog, tenant_id, 800, 790, 10, 785, 1, 900, 2)
    (done,) = retention.purge(store, catalog, tenant_id=tenant_id, stretch=2)
    assert done.purged is not None
    assert (done.purged.count, done.purged.first_seq, done.purged.last_seq) == (4, 1, 6)
    pruned = [link.seq for link in store.chain(tenant_id) if link.pruned]
    assert pruned == [1, 2, 4, 6]
    (event,) = recorded(store, tenant_id, "retention.purge")
    assert (event["seq"], event["params"]["count"]) == (8, 4)
    walk = intact(store, tenant_id)
    assert walk.pruned == 4


def actor_of_seq(links: list[StoredLink], seq: int) -> str:
    """The id of the event at ``seq`` among ``links``."""
    return str(orjson.loads(links[seq - 1].body)["event"]["id"])


def test_a_pruned_event_changed_is_found_by_verify(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """The commitment proves the pruned event's link: a prev_hash moved, a commitment
    swapped, or content put back beside it are breaks at its seq."""
    publish(store, catalog, tenant_id, 800, 790, 1)
    retention.purge(store, catalog, tenant_id=tenant_id)
    third = list(store.chain(tenant_id))[2]
    for change in (
        ("UPDATE events SET prev_hash = ? WHERE tenant_id = ? AND seq = 2", third.hash),
        (
            "UPDATE events SET commitment = (SELECT commitment FROM events WHERE tenant_id = ?"
            " AND seq = 1) WHERE tenant_id = ? AND seq = 2",
            tenant_id,
        ),
        ("UPDATE events SET actor_name = ? WHERE tenant_id = ? AND seq = 2", "x"),
    ):
        saved = execute(
            store_url,
            "SELECT prev_hash, commitment, actor_name FROM events WHERE tenant_id = ? AND seq = 2",
            tenant_id,
        )
        execute(store_url, change[0], change[1], tenant_id, bypass_triggers=True)
        (walk,) = verify_store(store, tenant_id)
        assert walk.broken is not None and walk.broken.seq == 2, change[0]
        execute(
            store_url,
            "UPDATE events SET prev_hash = ?, commitment = ?, actor_name = ?"
            " WHERE tenant_id = ? AND seq = 2",
            *saved[0],
            tenant_id,
            bypass_triggers=True,
        )
    walk = intact(store, tenant_id)
    assert walk.pruned == 2


def test_after_a_purge_the_signed_checkpoints_still_agree(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    signer = Signer.generate()
    publish(store, catalog, tenant_id, 800, 790, 780, 3)
    for seq in (2, 3, 4):
        sign_checkpoint(store, signer, tenant_id, seq=seq)
    (done,) = retention.purge(store, catalog, tenant_id=tenant_id, key=signer.public_key)
    assert done.purged is not None and done.purged.count == 3
    walk = intact(store, tenant_id, signer.public_key)
    assert walk.anchors == 3 and walk.pruned == 3
    sign_checkpoint(store, signer, tenant_id)  # a pruned chain is signed on from its head
    walk = intact(store, tenant_id, signer.public_key)
    assert walk.anchors == 4


def test_a_chain_whose_every_event_expired_still_verifies(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    publish(store, catalog, tenant_id, 900, 800)
    store.update_tenant(tenant_id, TenantChanges(retention={"operation": 30}))
    (done,) = retention.purge(store, catalog, tenant_id=tenant_id)
    assert done.purged is not None and done.purged.count == 2
    assert [link.pruned for link in store.chain(tenant_id)] == ["retention", "retention", None]
    walk = intact(store, tenant_id)
    assert walk.checked == 3


def test_keep_forever_and_unlimited_products_purge_nothing(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    publish(store, catalog, tenant_id, 3000, 2000)
    store.update_tenant(tenant_id, TenantChanges(retention={"operation": 0}))
    (plan,) = retention.purge(store, catalog, tenant_id=tenant_id)
    assert plan.count == 0 and plan.days["operation"] is None
    assert store.count_events(tenant_id) == 2


def test_a_legal_hold_stops_purging_and_is_recorded(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    publish(store, catalog, tenant_id, 800, 10)
    held = retention.set_legal_hold(store, catalog, tenant_id, "case 2026-17", OPERATOR)
    assert held.legal_hold == "case 2026-17" and held.legal_hold_since is not None
    (plan,) = retention.purge(store, catalog, tenant_id=tenant_id)
    assert plan.held and plan.purged is None and store.count_events(tenant_id) == 3
    again = retention.set_legal_hold(store, catalog, tenant_id, "case 2026-17 and 18", OPERATOR)
    assert again.legal_hold_since == held.legal_hold_since
    released = retention.set_legal_hold(
        store, catalog, tenant_id, None, OPERATOR, release_reason="case closed"
    )
    assert released.legal_hold is None and released.legal_hold_since is None
    with pytest.raises(Conflict, match="not under legal hold"):
        retention.set_legal_hold(store, catalog, tenant_id, None, OPERATOR, release_reason="x")
    (plan,) = retention.purge(store, catalog, tenant_id=tenant_id)
    assert plan.purged is not None and plan.purged.count == 1
    reasons = [e["params"]["reason"] for e in recorded(store, tenant_id, "legal_hold.set")]
    assert reasons == ["case 2026-17", "case 2026-17 and 18"]
    (release,) = recorded(store, tenant_id, "legal_hold.release")
    assert (
        release["params"]["reason"] == "case closed" and actor_of(release)["id"] == "operator:test"
    )
    intact(store, tenant_id)


def test_a_purge_never_removes_events_that_do_not_verify(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    publish(store, catalog, tenant_id, 800, 790, 1)
    execute(
        store_url,
        "UPDATE events SET actor_name = 'x' WHERE tenant_id = ? AND seq = 2",
        tenant_id,
        bypass_triggers=True,
    )
    (plan,) = retention.purge(store, catalog, tenant_id=tenant_id)
    assert plan.refused is not None and "seq 2" in plan.refused and plan.purged is None
    assert store.count_events(tenant_id) == 3


def test_a_purge_never_removes_a_run_rewritten_up_to_its_end(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """Expired events 2-3 rewritten consistently, 4 left on: the run verifies alone, but it
    does not link to the rest of the chain, so nothing is purged and nothing is recorded."""
    publish(store, catalog, tenant_id, 800, 790, 780, 1, 1)
    rewrite_from(store, store_url, tenant_id, 2, upto=3)
    (plan,) = retention.purge(store, catalog, tenant_id=tenant_id)
    assert plan.refused is not None and "seq 4" in plan.refused and plan.purged is None
    assert store.count_events(tenant_id) == 5
    assert recorded(store, tenant_id, "retention.purge") == []


def test_a_purge_never_removes_a_run_a_later_checkpoint_contradicts(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """The whole chain rewritten from 2, head record included: it links on to the head,
    but the checkpoint signed at 5 before the rewrite says otherwise."""
    signer = Signer.generate()
    publish(store, catalog, tenant_id, 800, 790, 780, 1, 1)
    sign_checkpoint(store, signer, tenant_id, seq=5)
    rewrite_from(store, store_url, tenant_id, 2)
    (plan,) = retention.purge(store, catalog, tenant_id=tenant_id, key=signer.public_key)
    assert plan.refused is not None and "checkpoint at seq 5" in plan.refused
    assert store.count_events(tenant_id) == 5


def test_events_removed_outside_a_purge_are_found_even_with_the_start_moved(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    publish(store, catalog, tenant_id, 5, 4, 3)
    second = list(store.chain(tenant_id))[1]
    execute(
        store_url,
        "DELETE FROM events WHERE tenant_id = ? AND seq <= 2",
        tenant_id,
        bypass_triggers=True,
    )
    execute(
        store_url,
        "UPDATE tenants SET chain_start_seq = 3, chain_start_hash = ? WHERE id = ?",
        second.hash,
        tenant_id,
    )
    (walk,) = verify_store(store, tenant_id)
    assert walk.broken is not None and walk.broken.seq == 3
    assert "retention.purge event is missing" in walk.broken.reason


def test_a_purge_prunes_each_month_in_one_statement_and_keeps_the_partitions(
    fresh_url: str, catalog: Catalog
) -> None:
    """The month ten months ago holds only expired events, the next an expired one among kept
    ones: each month is pruned by one UPDATE of its partition (PostgreSQL names them in the
    record), no partition is dropped, and the client ids stay: a retry of a pruned event is a
    duplicate."""
    store = open_store(fresh_url)
    try:
        (y3, m3), (y4, m4) = months_ago(10), months_ago(9)
        times = [
            f"{y3}-{m3:02d}-10T00:00:00Z",
            f"{y3}-{m3:02d}-11T00:00:00Z",
            f"{y4}-{m4:02d}-02T00:00:00Z",
            ago(1),
            f"{y4}-{m4:02d}-03T00:00:00Z",
        ]
        events = [pca_event("b", n, occurred_at=t) for n, t in enumerate(times, 1)]
        store.append(prepare(events, catalog))
        days = dict.fromkeys(("login", "operation", "provisioning"), 30)
        store.update_tenant("b", TenantChanges(retention=days))
        (done,) = retention.purge(store, catalog)
        assert done.purged is not None and (done.purged.first_seq, done.purged.last_seq) == (1, 5)
        assert [link.seq for link in store.chain("b") if link.pruned] == [1, 2, 3, 5]
        intact(store, "b")
        (receipt,) = store.append(prepare([events[0]], catalog))
        assert receipt.duplicate and receipt.seq == 1
        if fresh_url.startswith("postgresql"):
            names = [f"events_y{y3}m{m3:02d}", f"events_y{y4}m{m4:02d}"]
            assert done.purged.partitions == tuple(names)
            partitions = {row[0] for row in execute(fresh_url, PARTITIONS)}
            assert set(names) <= partitions
            (event,) = recorded(store, "b", "retention.purge")
            assert details_of(event)["partitions"] == names
    finally:
        store.close()


def months_ago(count: int) -> tuple[int, int]:
    """The (year, month) ``count`` months before the current one (UTC)."""
    now = utcnow()
    index = now.year * 12 + now.month - 1 - count
    return index // 12, index % 12 + 1


PARTITIONS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE i.inhparent = 'events'::regclass"
)
