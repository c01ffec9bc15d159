"""Retention waits for streaming: an expired event a destination has not received stays
until it has; the operator may prune it anyway (``undelivered``), and the purge's record says
up to which seq the destinations had it — the gap they will meet."""

from __future__ import annotations

from datetime import timedelta

from kansa import retention
from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Query
from kansa.integrity.signing import Signer
from kansa.records import TenantChanges
from kansa.store import Store
from kansa.streaming import manage
from kansa.streaming.destinations import parse_spec
from kansa.timeutil import utcnow
from tests.helpers import intact, pca_event

NOWHERE = "http://127.0.0.1:9/never-reached"


def expired_log(store: Store, catalog: Catalog, tenant: str) -> None:
    """Ten events of 60 days ago, kept 30 days."""
    old = (utcnow() - timedelta(days=60)).isoformat()
    store.append(prepare([pca_event(tenant, n, occurred_at=old) for n in range(1, 11)], catalog))
    days = dict.fromkeys(("login", "operation", "provisioning"), 30)
    store.update_tenant(tenant, TenantChanges(retention=days))


def add_destination(store: Store, signer: Signer, tenant: str | None) -> str:
    spec = parse_spec(
        {"name": "siem", "kind": "webhook", "config": {"url": NOWHERE}, "start": "beginning"}
    )
    return manage.add(store, signer, spec, tenant, secret_given=False).destination.id


def pruned_seqs(store: Store, tenant: str) -> list[int]:
    return [link.seq for link in store.chain(tenant) if link.pruned]


def test_a_purge_prunes_only_what_every_destination_received(
    fresh_store: Store, catalog: Catalog, signer: Signer
) -> None:
    expired_log(fresh_store, catalog, "acme")
    destination = add_destination(fresh_store, signer, "acme")
    fresh_store.rewind_cursor(destination, "acme", 4)  # the receiver has 1–4

    (found,) = retention.purge(fresh_store, catalog, tenant_id="acme")
    assert found.waiting == 4
    assert pruned_seqs(fresh_store, "acme") == [1, 2, 3, 4]
    intact(fresh_store, "acme")

    fresh_store.rewind_cursor(destination, "acme", 10)  # now it has every one
    retention.purge(fresh_store, catalog, tenant_id="acme")
    assert pruned_seqs(fresh_store, "acme") == list(range(1, 11))


def test_nothing_goes_while_an_operators_destination_has_not_started_on_a_tenant(
    fresh_store: Store, catalog: Catalog, signer: Signer
) -> None:
    expired_log(fresh_store, catalog, "acme")
    add_destination(fresh_store, signer, None)  # every tenant; no cursor for acme yet
    (found,) = retention.purge(fresh_store, catalog, tenant_id="acme")
    assert found.waiting == 0 and found.purged is None
    assert pruned_seqs(fresh_store, "acme") == []


def test_the_operator_may_prune_what_was_not_received_and_the_gap_is_recorded(
    fresh_store: Store, catalog: Catalog, signer: Signer
) -> None:
    expired_log(fresh_store, catalog, "acme")
    destination = add_destination(fresh_store, signer, "acme")
    fresh_store.rewind_cursor(destination, "acme", 4)

    (found,) = retention.purge(fresh_store, catalog, tenant_id="acme", undelivered=True)
    assert found.gap == 4 and found.waiting is None
    assert pruned_seqs(fresh_store, "acme") == list(range(1, 11))
    (record,) = [
        e
        for e in fresh_store.stream(Query(tenant="acme", descending=False))
        if e["action"] == "retention.purge"
    ]
    details = record["details"]
    assert details is not None and details["undelivered_after_seq"] == 4
