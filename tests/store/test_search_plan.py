"""The newest page of a tenant is read through the (tenant, time) index, on SQLite, whose
plans follow from the schema alone: a condition that let SQLite read the tenant's whole chain
by seq and sort it (the head every read is capped at) made each search 40 ms at 100,000
events instead of 1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kansa.events.query import Filters, Query
from kansa.store import open_store
from kansa.store.search import build


def test_the_newest_page_reads_the_time_index_and_sorts_nothing_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    store = open_store(url)
    store.migrate()
    store.close()
    conn = sqlite3.connect(tmp_path / "plan.db")
    try:
        for query in (
            Query(tenant="t"),
            Query(tenant="t", filters=Filters(histories=("login",))),
            Query(tenant="t", descending=False),
        ):
            text, params = build(query, "sqlite")
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + text, params)]
            assert any("USING INDEX events_tenant_time" in step for step in plan), plan
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
    finally:
        conn.close()
