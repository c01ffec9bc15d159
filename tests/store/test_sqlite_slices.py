"""SQLite's chain walks in slices, a statement each: the same rows in the same order as one
statement reads, without holding one read snapshot of the file for the whole walk (which
keeps every commit meanwhile in the WAL). Export streams stay one statement: read in keyset
pages they were twice as slow, and slower with every page."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Query
from kansa.store import rows
from kansa.store import search as search_sql
from kansa.store import sqlite as sqlite_store
from kansa.store.sqlite import SQLiteStore
from tests.helpers import pca_event

EVENTS = 23


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store, "SLICE", 5)


@pytest.fixture
def sqlite(tmp_path: Path, catalog: Catalog, tenant_id: str) -> Iterator[SQLiteStore]:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'kansa.db'}")
    store.migrate()
    times = [f"2026-11-21T10:{n % 7:02d}:00+09:00" for n in range(EVENTS)]  # ties, out of order
    events = [pca_event(tenant_id, n + 1, occurred_at=times[n]) for n in range(EVENTS)]
    store.append(prepare(events, catalog))
    yield store
    store.close()


def _one_statement(store: SQLiteStore, text: str, params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(text, params).fetchall()  # type: ignore[arg-type]
    finally:
        conn.close()


def _checkpoint_waits(path: str) -> bool:
    """Whether a full WAL checkpoint is kept waiting by a reader's snapshot right now."""
    conn = sqlite3.connect(path, timeout=0)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return bool(busy)
    finally:
        conn.close()


@pytest.mark.usefixtures("small_slices")
def test_a_chain_walk_in_slices_reads_every_row_once_in_order(
    sqlite: SQLiteStore, tenant_id: str
) -> None:
    whole = _one_statement(sqlite, *rows.chain_rows_query(tenant_id, 0, None, "sqlite"))
    assert list(sqlite.chain_rows(tenant_id)) == whole
    assert [link.seq for link in sqlite.chain(tenant_id)] == list(range(1, EVENTS + 1))
    assert [link.seq for link in sqlite.chain(tenant_id, 7, 16)] == list(range(8, 17))
    assert list(sqlite.chain(tenant_id, EVENTS)) == []
    assert list(sqlite.chain("nobody")) == []


@pytest.mark.usefixtures("small_slices")
def test_a_chain_walk_ends_at_the_last_row_stored_when_it_began(
    sqlite: SQLiteStore, catalog: Catalog, tenant_id: str
) -> None:
    walk = sqlite.chain(tenant_id)
    first = next(walk)
    sqlite.append(prepare([pca_event(tenant_id, 100)], catalog))  # seq 24, after the start
    assert [first.seq, *(link.seq for link in walk)] == list(range(1, EVENTS + 1))


def test_a_chain_walk_holds_no_read_snapshot_between_rows(
    sqlite: SQLiteStore, catalog: Catalog, tenant_id: str
) -> None:
    walk = sqlite.chain_rows(tenant_id)
    next(walk)
    sqlite.append(prepare([pca_event(tenant_id, 100)], catalog))  # something in the WAL
    assert not _checkpoint_waits(sqlite.path)
    assert len(list(walk)) == EVENTS - 1


@pytest.mark.parametrize("sort", ["occurred_at", "seq", "action", "actor", "started_at"])
@pytest.mark.parametrize("descending", [True, False])
def test_an_export_stream_gives_the_rows_a_search_statement_gives(
    sqlite: SQLiteStore, tenant_id: str, sort: str, descending: bool
) -> None:
    query = Query(tenant_id, sort=sort, descending=descending)
    text, params = search_sql.build(query, "sqlite", paged=False)
    whole = [search_sql.row_event(row) for row in _one_statement(sqlite, text, params)]
    assert list(sqlite.stream(query, batch=4)) == whole
    assert len(whole) == EVENTS
