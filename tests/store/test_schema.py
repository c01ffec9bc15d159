"""The migrations produce the schema the code declares (kansa.store.schema.DECLARED), on every
engine: the same tables and columns in the same order, keys and indexes — and the columns the
stores write are the columns the table has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Filters, Query
from kansa.store import open_store, schema, sqlite
from kansa.store.schema import Index
from tests import pg
from tests.helpers import pca_event
from tests.raw import execute


def engine(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def columns_of(url: str, table: str) -> tuple[str, ...]:
    if engine(url) == "sqlite":
        return tuple(row[1] for row in execute(url, f"PRAGMA table_info({table})"))
    rows = execute(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ? ORDER BY ordinal_position",
        table,
    )
    return tuple(row[0] for row in rows)


def pg_types(url: str, table: str) -> dict[str, str]:
    """Each column's type as binary COPY names it (int8, text, bytea)."""
    rows = execute(
        url,
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
        " WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        table,
    )
    return dict(rows)


FTS5_SHADOWS = ("data", "idx", "content", "docsize", "config")
"""The tables SQLite's FTS5 keeps behind a virtual table (``<name>_data``, …): the engine's."""


def tables_of(url: str) -> set[str]:
    if engine(url) == "sqlite":
        rows = execute(
            url, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        virtual = {
            row[0]
            for row in execute(
                url, "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'"
            )
        }
        shadows = {f"{name}_{shadow}" for name in virtual for shadow in FTS5_SHADOWS}
        return {row[0] for row in rows} - shadows
    else:  # partitions are the engine's business, not the schema's
        rows = execute(
            url,
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
            " AND relkind IN ('r', 'p') AND NOT relispartition",
        )
    return {row[0] for row in rows}


def primary_key_of(url: str, table: str) -> tuple[str, ...]:
    if engine(url) == "sqlite":
        info = execute(url, f"PRAGMA table_info({table})")
        return tuple(row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
    rows = execute(
        url,
        "SELECT a.attname FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k (attnum, n),"
        " pg_attribute a WHERE i.indrelid = ?::regclass AND i.indisprimary"
        " AND a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n",
        table,
    )
    return tuple(row[0] for row in rows)


def indexes_of(url: str, table: str) -> dict[str, Index]:
    """The indexes made by CREATE INDEX (not those behind a primary key)."""
    found: dict[str, Index] = {}
    if engine(url) == "sqlite":
        for _, name, unique, origin, _ in execute(url, f"PRAGMA index_list({table})"):
            if origin == "c":
                cols = tuple(row[2] for row in execute(url, f"PRAGMA index_info({name})"))
                found[name] = Index(table, cols, bool(unique))
        return found
    rows = execute(
        url,
        "SELECT c.relname, i.indisunique, array_agg(a.attname ORDER BY k.n)"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid,"
        " unnest(i.indkey) WITH ORDINALITY AS k (attnum, n), pg_attribute a"
        " WHERE i.indrelid = ?::regclass AND NOT i.indisprimary"
        " AND a.attrelid = i.indrelid AND a.attnum = k.attnum GROUP BY c.relname, i.indisunique",
        table,
    )
    for name, unique, cols in rows:
        found[name] = Index(table, tuple(cols), unique)
    return found


def triggers_of(url: str) -> dict[str, str]:
    """Trigger name → table (on PostgreSQL, not the clones on each partition nor the TRUNCATE
    trigger each partition has of its own: tests/store/test_postgres.py checks those)."""
    if engine(url) == "sqlite":
        rows = execute(url, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
    else:
        rows = execute(
            url,
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND NOT c.relispartition"
            " AND c.relnamespace = current_schema()::regnamespace",
        )
    return dict(rows)


def test_the_migrated_schema_is_the_declared_one(store_url: str) -> None:
    declared = schema.DECLARED[engine(store_url)]
    assert tables_of(store_url) == set(declared.tables)
    for table, columns in declared.tables.items():
        assert columns_of(store_url, table) == columns, table
        assert primary_key_of(store_url, table) == declared.primary_keys[table], table
    indexes: dict[str, Index] = {}
    for table in declared.tables:
        indexes |= indexes_of(store_url, table)
    assert indexes == declared.indexes
    assert triggers_of(store_url) == declared.triggers


def test_the_stores_write_the_columns_the_table_has(store_url: str) -> None:
    events = columns_of(store_url, "events")
    written = (*schema.EVENT_ROW, *schema.PRUNE_ROW)
    if engine(store_url) == "postgresql":  # the index terms, copied with the row
        written += schema.TERMS_ROW
    assert set(events) == set(written) and len(written) == len(events)
    listed = re.search(r"INSERT INTO events \(([^)]*)\)", sqlite.INSERT_EVENT)
    assert listed is not None
    assert tuple(c.strip() for c in listed.group(1).split(",")) == schema.EVENT_ROW
    assert {column for column, _ in schema.EVENT_COLUMNS} <= set(events)
    if engine(store_url) == "postgresql":
        from kansa.store import postgres

        for table, (statement, types) in (
            ("events", postgres.COPY_EVENTS),
            ("event_keys", postgres.COPY_KEYS),
        ):
            declared = [c for c in columns_of(store_url, table) if c not in schema.PRUNE_ROW]
            assert statement.startswith(f"COPY {table} ({', '.join(declared)})")
            assert types == [pg_types(store_url, table)[c] for c in declared], table


GLOBAL_TABLES = {
    "schema_migrations": "the schema's own history",
    "applications": "the publishing products, shared by every tenant",
    "api_keys": "keys of an application, bound to one tenant or to none",
    "signing_keys": "the public keys that signed the database's checkpoints, of every tenant",
    "destinations": "where logs are streamed: a tenant's, or the operator's for every tenant",
}
"""The tables that belong to no tenant: reference tables, copied whole to every shard of a
PostgreSQL distributed by tenant (docs/scale.md). Every other table is keyed by tenant."""
TENANT_COLUMN = {"tenants": "id"}
"""The tenant column of a table where it is not ``tenant_id``: a tenant's own row."""


def test_every_key_and_index_of_tenant_data_starts_with_the_tenant(store_url: str) -> None:
    declared = schema.DECLARED[engine(store_url)]
    assert set(GLOBAL_TABLES) < set(declared.tables)
    for table in set(declared.tables) - set(GLOBAL_TABLES) - set(declared.text_indexes):
        tenant = TENANT_COLUMN.get(table, "tenant_id")
        assert primary_key_of(store_url, table)[0] == tenant, table
        for name, index in indexes_of(store_url, table).items():
            if name in declared.text_indexes:  # its terms carry the tenant (tenant_term)
                continue
            assert index.columns[0] == tenant, f"{name} of {table} does not start with {tenant}"


@pytest.mark.parametrize("dialect", sorted(schema.DIALECTS))
def test_every_statement_renders_for_every_engine(dialect: str) -> None:
    for migration in schema.MIGRATIONS:
        for statement in migration.statements_for(dialect):
            assert "{" not in statement and statement.strip()


def test_an_engine_only_statement_is_skipped_by_the_others() -> None:
    only = schema.Only("postgresql", "CREATE INDEX x ON events (tenant_id)")
    assert schema.render(only, "sqlite") == ""
    assert schema.render(only, "postgresql") == only.sql


def test_keys_made_before_the_scopes_split_keep_what_read_let_them_do(fresh_url: str) -> None:
    """The migration that split ``read`` gives every key that had it ``mint``, ``hold`` and
    ``checkpoint`` (what ``read`` allowed before); a publish-only key gains nothing."""
    split = next(m for m in schema.MIGRATIONS if m.name.startswith("scopes split"))
    now = 1_700_000_000_000_000
    execute(fresh_url, "INSERT INTO applications (name, created_at) VALUES ('app', ?)", now)
    for key_id, scopes in (("k-read", "read"), ("k-both", "publish,read"), ("k-pub", "publish")):
        execute(
            fresh_url,
            "INSERT INTO api_keys (id, app, scopes, secret_hash, created_at)"
            " VALUES (?, 'app', ?, 'x', ?)",
            key_id,
            scopes,
            now,
        )
    for statement in split.statements_for(engine(fresh_url)):
        execute(fresh_url, statement)
    found = dict(execute(fresh_url, "SELECT id, scopes FROM api_keys"))
    assert found == {
        "k-read": "checkpoint,hold,mint,read",
        "k-both": "checkpoint,hold,mint,publish,read",
        "k-pub": "publish",
    }


def test_the_window_index_replaces_two_on_a_database_that_had_them(
    store_url: str, catalog: Catalog, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Migration 17 on a database of the schema before it, holding events: the (tenant, time)
    and (tenant, category, time) indexes give way to the window's, and every search finds
    what it found before."""
    if engine(store_url) == "sqlite":
        url, server = f"sqlite:///{tmp_path / 'before.db'}", None
    else:
        server = request.getfixturevalue("postgres_server")
        url = pg.create_database(server)
    store = open_store(url)
    try:
        store.migrate()
        for statement in (
            "CREATE INDEX events_tenant_time ON events (tenant_id, occurred_at)",
            "CREATE INDEX events_tenant_category ON events (tenant_id, category, occurred_at)",
            f"DROP INDEX {schema.WINDOW_INDEX}",
            "DELETE FROM schema_migrations WHERE version = 17",
        ):
            execute(url, statement)
        failed = {"action": "auth.login_failed", "result": "failure"}
        events = [pca_event("t-w", n, **(failed if n % 3 else {})) for n in range(30)]
        store.append(prepare(events, catalog))
        searches = [
            Filters(),
            Filters(levels=("warning",)),
            Filters(results=("failure",), categories=("auth",)),
            Filters(actions=("user.*",)),
            Filters(histories=("operation",)),
        ]
        before = [[e["id"] for e in store.search(Query("t-w", filters=f)).events] for f in searches]
        assert "events_tenant_category" in indexes_of(url, "events")
        assert store.migrate() == [
            "17: one index for a tenant's window and the kinds of its events, for two"
        ]
        assert indexes_of(url, "events") == {
            name: index
            for name, index in schema.DECLARED[engine(url)].indexes.items()
            if index.table == "events"
        }
        after = [[e["id"] for e in store.search(Query("t-w", filters=f)).events] for f in searches]
        assert after == before and [len(ids) for ids in after] == [30, 20, 20, 10, 10]
    finally:
        store.close()
        if server is not None:
            pg.drop_database(server, url)
