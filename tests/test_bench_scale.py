"""The benchmark's grown database (bench/scale.py) on both engines: every row copied, the
tenants' heads raised, and the indexes of ``events`` made again exactly as the schema made
them (read back from the catalog), the free-text index finding the copies too."""

from __future__ import annotations

from typing import Any

from bench import scale
from bench.engines import engine_for
from kansa.catalog import Catalog
from kansa.demo import fill
from kansa.events.query import Query, parse_q
from kansa.store import open_store
from tests.raw import execute

EVENTS = 300
COPIES = 3


def index_catalog(url: str) -> set[tuple[Any, ...]]:
    """Every index of ``events`` (and on PostgreSQL of each partition) as the catalog holds
    it: its name, definition, whether it is unique, and on PostgreSQL whether it is valid."""
    if url.startswith("sqlite"):
        listed = execute(
            url,
            'SELECT m.name, m.sql, l."unique", l.origin FROM sqlite_master m'
            " JOIN pragma_index_list('events') l ON l.name = m.name WHERE m.type = 'index'",
        )
        return set(listed)
    return set(
        execute(
            url,
            "SELECT t.relname, c.relname, pg_get_indexdef(i.indexrelid), i.indisunique,"
            " i.indisprimary, i.indisvalid, i.indisready FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE i.indrelid = 'events'::regclass OR i.indrelid IN"
            " (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events'::regclass)",
        )
    )


def heads(url: str) -> dict[str, int]:
    return {str(t): int(s) for t, s in execute(url, "SELECT id, last_seq FROM tenants")}


def test_grow_copies_every_event_and_makes_the_indexes_again(
    fresh_url: str, catalog: Catalog
) -> None:
    store = open_store(fresh_url)
    try:
        assert fill(store, catalog, EVENTS) == EVENTS
    finally:
        store.close()
    url, sqlite = fresh_url, fresh_url.startswith("sqlite")
    indexes = index_catalog(url)
    assert len(indexes) >= 6  # 5 and the primary key's (SQLite); 6 on each table (PostgreSQL)
    before = heads(url)
    tenant, login = execute(
        url,
        "SELECT tenant_id, actor_login FROM events WHERE actor_login IS NOT NULL"
        " ORDER BY tenant_id, seq LIMIT 1",
    )[0]
    found = _found(url, tenant, login)
    assert found

    grown = scale.grow(engine_for(url), url, EVENTS * (COPIES + 1))

    assert (grown.before, grown.copies) == (EVENTS, COPIES)
    assert grown.after == EVENTS * (COPIES + 1)
    assert execute(url, "SELECT count(*) FROM events")[0][0] == grown.after
    assert index_catalog(url) == indexes
    assert heads(url) == {t: seq * (COPIES + 1) for t, seq in before.items()}
    if sqlite:
        assert execute(url, "SELECT count(*) FROM event_terms")[0][0] == grown.after
        joined = "SELECT count(*) FROM event_terms t JOIN events e ON e.rowid = t.rowid"
        assert execute(url, joined)[0][0] == grown.after
        assert execute(url, "PRAGMA journal_mode")[0][0] == "wal"
    else:  # the copies keep their terms, and their time's partition
        assert execute(url, "SELECT count(*) FROM events WHERE terms IS NULL")[0][0] == 0
        assert execute(url, "SELECT count(*) FROM ONLY events")[0][0] == 0
    # the free-text search (through the index) finds each original and its copies (whose
    # bodies are the original's, its seq in them)
    assert _found(url, tenant, login) == sorted(found * (COPIES + 1))


def _found(url: str, tenant: str, q: str) -> list[int]:
    store = open_store(url)
    try:
        page = store.search(Query(tenant=tenant, filters=parse_q(q), limit=1000))
    finally:
        store.close()
    assert page.next_cursor is None
    return sorted(int(event["seq"]) for event in page.events)
