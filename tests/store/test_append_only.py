"""The database itself refuses to change or delete a stored event — on every engine — except
inside the retention purge; and an attacker who takes the triggers out of the way is still
found by verify (tests/store/test_append.py)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import intact, pca_event
from tests.raw import execute

REFUSED = (sqlite3.IntegrityError, psycopg.errors.RestrictViolation)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events SET action = 'user.delete' WHERE tenant_id = ? AND seq = 2",
        "UPDATE events SET seq = seq + 100 WHERE tenant_id = ?",
        "DELETE FROM events WHERE tenant_id = ? AND seq = 2",
        "DELETE FROM events WHERE tenant_id = ?",
    ],
)
def test_a_direct_update_or_delete_of_an_event_is_refused(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, sql: str
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    with pytest.raises(REFUSED, match="append-only"):
        execute(store_url, sql, tenant_id)
    assert store.count_events(tenant_id) == 3
    walk = intact(store, tenant_id)
    assert walk.checked == 3


def test_checkpoints_cannot_be_changed_or_deleted(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    (receipt,) = store.append(prepare([pca_event(tenant_id)], catalog))
    store.add_checkpoint(Signer.generate().checkpoint(tenant_id, 1, receipt.hash, utcnow()))
    for sql in (
        "UPDATE checkpoints SET head_hash = 'x' WHERE tenant_id = ?",
        "DELETE FROM checkpoints WHERE tenant_id = ?",
    ):
        with pytest.raises(REFUSED, match="append-only"):
            execute(store_url, sql, tenant_id)
    assert len(store.checkpoints(tenant_id)) == 1


def test_the_purge_exception_cannot_be_taken_by_accident(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """SQLite lets a DELETE through only for rows a purge permit covers; PostgreSQL only in a
    transaction that switched kansa.purge on. Nothing is left switched on afterwards."""
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    if store_url.startswith("sqlite"):
        assert execute(store_url, "SELECT count(*) FROM purge_permits") == [(0,)]
        execute(store_url, "INSERT INTO purge_permits VALUES (?, 1)", tenant_id)
        try:
            with pytest.raises(REFUSED):  # seq 2 is beyond the permit
                execute(store_url, "DELETE FROM events WHERE tenant_id = ? AND seq = 2", tenant_id)
        finally:
            execute(store_url, "DELETE FROM purge_permits WHERE tenant_id = ?", tenant_id)
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            with conn.transaction():  # as the purge does: on for its own transaction only
                conn.execute("SELECT set_config('kansa.purge', 'on', true)")
            with pytest.raises(REFUSED):
                conn.execute("DELETE FROM events WHERE tenant_id = %s", (tenant_id,))
    assert store.count_events(tenant_id) == 3


def test_the_attackers_bypass_really_takes_the_triggers_away_and_back(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    sql = "DELETE FROM events WHERE tenant_id = ? AND seq = 3"
    execute(store_url, sql, tenant_id, bypass_triggers=True)
    assert store.count_events(tenant_id) == 2
    with pytest.raises(REFUSED):
        execute(store_url, "DELETE FROM events WHERE tenant_id = ?", tenant_id)


PRUNE_SHAPED = "UPDATE events SET pruned = 'retention', body = ?, actor_name = NULL"


def test_a_prune_is_the_only_update_and_only_inside_its_own_transaction(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """A prune-shaped UPDATE without the permit (SQLite) or the switch (PostgreSQL) is
    refused; with it, an UPDATE that changes a hash, or is not a prune, is refused still."""
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    where = " WHERE tenant_id = ? AND seq = 2"
    with pytest.raises(REFUSED, match="append-only"):
        execute(store_url, PRUNE_SHAPED + where, b"", tenant_id)
    wrong = (
        (PRUNE_SHAPED + ", hash = 'x'" + where, (b"", tenant_id)),
        ("UPDATE events SET actor_name = 'x'" + where, (tenant_id,)),
    )
    if store_url.startswith("sqlite"):
        execute(store_url, "INSERT INTO purge_permits VALUES (?, 3)", tenant_id)
        try:
            for sql, params in wrong:
                with pytest.raises(REFUSED):
                    execute(store_url, sql, *params)
        finally:
            execute(store_url, "DELETE FROM purge_permits WHERE tenant_id = ?", tenant_id)
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            for sql, params in wrong:
                with pytest.raises(REFUSED), conn.transaction():
                    conn.execute("SELECT set_config('kansa.purge', 'on', true)")
                    conn.execute(sql.replace("?", "%s"), params)
    assert [link.pruned for link in store.chain(tenant_id)] == [None, None, None]
    intact(store, tenant_id)
