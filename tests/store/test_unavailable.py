"""A SQLite file locked by another writer for longer than the busy timeout is
``StoreUnavailable``, and the store's connection is usable again once the lock is gone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kansa.errors import StoreUnavailable
from kansa.store.sqlite import SQLiteStore


def test_a_sqlite_file_locked_past_the_timeout(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'kansa.db'}")
    store.migrate()
    store.db.execute("PRAGMA busy_timeout=50")  # this thread's connection: wait 50 ms, not 30 s
    other = sqlite3.connect(tmp_path / "kansa.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="database is locked"):
            store.create_tenant("t-locked", name=None, layout=None, tz="UTC", lang="ja")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not store.db.in_transaction
    store.create_tenant("t-locked", name=None, layout=None, tz="UTC", lang="ja")
    assert [t.id for t in store.list_tenants()] == ["t-locked"]
    store.close()
