"""verify looks at everything the store holds, as an attacker with write access to the
database leaves it: rows above a tenant's recorded head (never served to readers either),
events and checkpoints whose tenant row is gone, and PostgreSQL's idempotency keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kansa.catalog import Catalog
from kansa.cli import app
from kansa.events.prepare import prepare
from kansa.events.query import Query
from kansa.integrity.checkpoints import sign_checkpoint
from kansa.integrity.signing import Signer
from kansa.integrity.verify import verify_store
from kansa.store import Store, open_store
from kansa.timeutil import utcnow
from tests.helpers import intact, pca_event
from tests.raw import execute, insert_above_head


def broken(store: Store, tenant: str) -> str:
    (walk,) = verify_store(store, tenant)
    assert walk.broken is not None, "verify found nothing"
    return str(walk.broken)


def test_a_row_above_the_head_is_a_break_and_never_served(
    client: TestClient, auth: dict[str, str], store: Store, store_url: str, tenant_id: str
) -> None:
    for n in range(3):
        assert client.post("/api/v1/events", json=pca_event(tenant_id, n), headers=auth).is_success
    walk = intact(store, tenant_id)
    assert walk.head_seq == 3
    hidden = insert_above_head(store, store_url, tenant_id)
    assert (
        "chain broken at seq 4: rows up to seq 4 lie above the tenant's recorded head, seq 3"
        in (broken(store, tenant_id))
    )
    asked = {"tenant": tenant_id}
    found = client.get("/api/v1/events", params=asked, headers=auth).json()["events"]
    assert [e["seq"] for e in found] == [3, 2, 1]
    assert client.get(f"/api/v1/events/{hidden}", params=asked, headers=auth).status_code == 404
    # what exports stream (the API's export records its download at seq 4 when it ends,
    # which the row put there refuses: the chain stays broken until it is repaired)
    streamed = [e["id"] for e in store.stream(Query(tenant_id, sort="seq", descending=False))]
    assert len(streamed) == 3 and hidden not in streamed
    assert store.seq_range(tenant_id, datetime(2000, 1, 1, tzinfo=UTC), utcnow()) == (1, 3)


def test_events_and_checkpoints_of_a_deleted_tenant_are_reported(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(3)], catalog))
    sign_checkpoint(store, Signer.generate(), tenant_id)
    execute(store_url, "DELETE FROM tenants WHERE id = ?", tenant_id, bypass_triggers=True)
    assert tenant_id in store.orphan_tenants()
    (walk,) = verify_store(store, tenant_id)
    assert walk.broken is not None and walk.broken.seq == 1
    assert "its tenant row is gone (deleted behind kansa's back)" in walk.broken.reason
    assert store.get_tenant(tenant_id) is None and store.count_events(tenant_id) == 3


@pytest.mark.parametrize(
    ("attack", "found"),
    [
        ("delete", "the event at seq 2 has no idempotency key row"),
        ("change", "the idempotency key row of the event at seq 2 disagrees with it"),
        ("add", "an idempotency key row names seq 2 but no such event"),
    ],
)
def test_idempotency_keys_changed_behind_kansas_back_are_found(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, attack: str, found: str
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(3)], catalog))
    intact(store, tenant_id)
    if store_url.startswith("sqlite"):
        # SQLite keeps the client id on the event row itself, under the chain's hash
        execute(
            store_url,
            "UPDATE events SET client_id = ? WHERE tenant_id = ? AND seq = 2",
            f"forged-{uuid.uuid4().hex[:6]}",
            tenant_id,
            bypass_triggers=True,
        )
        assert "column 'client_id' differs from the hashed event" in broken(store, tenant_id)
        return
    statement = {
        "delete": "DELETE FROM event_keys WHERE tenant_id = ? AND seq = 2",
        "change": "UPDATE event_keys SET hash = 'ff' || hash WHERE tenant_id = ? AND seq = 2",
        "add": "INSERT INTO event_keys SELECT tenant_id, 'forged', id, seq, hash, occurred_at"
        " FROM event_keys WHERE tenant_id = ? AND seq = 2",
    }[attack]
    execute(store_url, statement, tenant_id, bypass_triggers=True)
    assert f"chain broken at seq 2: {found} (event_keys changed" in broken(store, tenant_id)


def test_kansa_verify_names_a_deleted_tenant_and_exits_1(fresh_url: str, catalog: Catalog) -> None:
    store = open_store(fresh_url)
    try:
        for tenant in ("kept", "gone"):
            store.append(prepare([pca_event(tenant, n) for n in range(2)], catalog))
    finally:
        store.close()
    execute(fresh_url, "DELETE FROM tenants WHERE id = 'gone'", bypass_triggers=True)
    result = CliRunner().invoke(app, ["verify", "--db", fresh_url])
    assert result.exit_code == 1, result.output
    assert "ok     tenant kept: 2 events" in result.stdout
    assert "BROKEN tenant gone: chain broken at seq 1: events, checkpoints or idempotency" in (
        result.stderr
    )
