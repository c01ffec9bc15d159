"""SQLite's ``-wal`` file: copied into the database file every :data:`WAL_PAGES` pages, not
SQLite's default 1,000, and starting over once copied, so it stays bounded however much is
appended."""

from __future__ import annotations

from pathlib import Path

import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.store import sqlite as sqlite_store
from kansa.store.sqlite import SQLiteStore
from tests.helpers import pca_event

PAGE = 4096


def test_every_connection_copies_the_wal_at_the_store_mark(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'kansa.db'}")
    try:
        store.migrate()
        (pages,) = store.db.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert pages == sqlite_store.WAL_PAGES > 1000
    finally:
        store.close()


def test_the_wal_starts_over_once_past_the_mark(
    tmp_path: Path, catalog: Catalog, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the mark made small, the file never holds much more than the mark and one
    append; SQLite's default (1,000 pages, 4 MiB) would let it grow past the bound."""
    monkeypatch.setattr(sqlite_store, "WAL_PAGES", 40)
    path = tmp_path / "kansa.db"
    store = SQLiteStore(f"sqlite:///{path}")
    try:
        store.migrate()
        largest = 0
        for batch in range(60):
            events = [pca_event(tenant_id, batch * 50 + n + 1) for n in range(50)]
            store.append(prepare(events, catalog))
            largest = max(largest, (path.parent / "kansa.db-wal").stat().st_size)
        stored = store.db.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        store.close()
    assert stored == 3000
    one_append = 200 * PAGE  # far more than 50 events touch
    assert largest <= 40 * PAGE + one_append < 1000 * PAGE
