"""A read parts' database grown in SQL to many more events, for searching at ten million.

Storing ten million events through kansa (or even through the raw insert) takes longer than
the rest of the benchmark together. The search part only needs the rows, so the database the
ingest part filled is copied onto itself in SQL, ``copies`` times: each copy of a tenant's
events follows its chain's end (``seq`` shifted by the tenant's head), with its own event id
and client id, and the same texts, actors, types, times and free-text index terms. The
tenants' heads are raised so readers are served the copies.

The copies are not a chain: each keeps its original's ``prev_hash`` and ``hash``, whose bytes
name the original ``seq``. So a grown database is only ever searched — the server runs with
``KANSA_JOBS=false`` (no checkpoint job walks it), nothing is signed, verified or exported
from it.

How it is fast: the rows go in as a bulk load does. The secondary indexes of ``events`` are
dropped before the copies and made again after them, each from its own definition as the
database keeps it (SQLite's ``sqlite_master``; on PostgreSQL ``pg_get_indexdef`` of the
partitioned parent, made again on every partition under the names its partitions' indexes
had) — one sort of the finished table each, instead of a random insert into every index for
every row. The primary key stays: the copies read through it (SQLite), and dropping and adding
it again measured no faster (PostgreSQL). SQLite's free-text terms of each copy go into
``event_terms`` in their own statement after the copy's rows, as before, so the text index
is the one a row-by-row grow made (one statement for every copy at the end measured no
faster). On PostgreSQL each copy lands in its time's partition (a row keeps its
``occurred_at``), and after the statistics ``events`` is vacuumed, as autovacuum leaves a
table after a bulk insert on a real server (this one runs without it; the searches measured
the same either way).

The session runs with bulk settings that trade safety for speed — SQLite with
``synchronous=OFF``, no rollback journal, a 1 GiB cache and ``secure_delete`` off; PostgreSQL
with ``synchronous_commit=off`` and 1 GB of ``maintenance_work_mem`` for the index builds —
which is fine because a grown database is thrown away after its run: one that a crash or a
failed copy leaves half grown (its indexes gone) is deleted, not repaired. SQLite's file is
back in WAL mode at the end, as the store keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.engines import Engine

HEADS = "bench_heads"
"""The table (made here) keeping each tenant's head before the copies."""
TERMS = "event_terms"
"""SQLite's free-text index, where there is one (PostgreSQL's is a column of ``events``)."""
SQLITE_SESSION = (
    "journal_mode=OFF",
    "synchronous=OFF",
    f"cache_size=-{1024 * 1024}",  # KiB: 1 GiB, also what an index's sort keeps in memory
    "secure_delete=OFF",  # the store zeroes what a prune frees; nothing here is secret
)
"""The grow's settings on SQLite (its connection only; the file is back in WAL at the end)."""
POSTGRES_SESSION = (
    "SET synchronous_commit = off",
    "SET maintenance_work_mem = '1GB'",
    "SET max_parallel_maintenance_workers = 2",  # one B-tree at 3M rows: 8.8 s alone, 3.6 s
)
"""The grow's settings on PostgreSQL (its session only)."""


@dataclass(frozen=True)
class Grown:
    before: int
    after: int
    copies: int
    seconds: float


@dataclass(frozen=True)
class Index:
    """A secondary index of ``events`` and the statement that makes it again."""

    name: str
    sql: str


def grow(engine: Engine, url: str, total: int) -> Grown:
    """Copy the events of ``url`` onto themselves until about ``total`` are stored."""
    conn = engine.connect(url)
    try:
        before = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        copies = max(0, -(-total // max(before, 1)) - 1)
        started = time.perf_counter()
        if copies:
            _grow(conn, engine.dialect, copies)
        after = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        return Grown(before, after, copies, time.perf_counter() - started)
    finally:
        conn.close()


def event_indexes(conn: Any, dialect: str) -> list[Index]:
    """The secondary indexes of ``events`` as the database keeps them, each with the
    statement that makes it again: SQLite's own ``CREATE INDEX`` (not the primary key's
    automatic index, which has none); on PostgreSQL the partitioned parent's indexes (each
    partition's is made with it), not the primary key's, which stays with its constraint."""
    if dialect == "sqlite":
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name"
        ).fetchall()
        return [Index(name, sql) for name, sql in rows]
    rows = conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'events'::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        " ORDER BY c.relname"
    ).fetchall()
    indexes = []
    for name, definition in rows:
        # The parent's definition reads "ON ONLY events" (the parent alone, its partitions
        # attached one by one, as pg_dump restores it); without ONLY the index is made on
        # every partition too, under the names the partitions' indexes had.
        if definition.count(" ON ONLY ") != 1:
            raise RuntimeError(f"bench: unexpected definition of index {name}: {definition}")
        indexes.append(Index(name, definition.replace(" ON ONLY ", " ON ")))
    return indexes


def _grow(conn: Any, dialect: str, copies: int) -> None:
    execute = conn.execute
    sqlite = dialect == "sqlite"
    terms = (
        sqlite
        and execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TERMS,)).fetchone() is not None
    )
    if sqlite:
        for pragma in SQLITE_SESSION:
            execute(f"PRAGMA {pragma}")
    else:
        for statement in POSTGRES_SESSION:
            execute(statement)

    indexes = event_indexes(conn, dialect)
    with _step(f"{len(indexes)} indexes of events dropped ({', '.join(i.name for i in indexes)})"):
        for index in indexes:
            execute(f'DROP INDEX "{index.name}"')

    columns = [d[0] for d in execute("SELECT * FROM events LIMIT 0").description]
    execute(f"CREATE TABLE {HEADS} AS SELECT id AS tenant_id, last_seq FROM tenants")
    for number in range(1, copies + 1):
        shown = {
            "seq": f"e.seq + {number} * h.last_seq",
            "id": f"e.id || '.{number}'",
            "client_id": f"e.client_id || '.{number}'",  # NULL stays NULL
        }
        select = ", ".join(shown.get(c, f"e.{c}") for c in columns)
        with _step(f"copy {number} of {copies} stored"):
            execute(
                f"INSERT INTO events ({', '.join(columns)}) SELECT {select} FROM events e"
                f" JOIN {HEADS} h ON h.tenant_id = e.tenant_id WHERE e.seq <= h.last_seq"
            )
        if terms:  # SQLite's free-text index is a table of its own, keyed by rowid
            with _step(f"free-text terms of copy {number} stored"):
                execute(
                    f"INSERT INTO {TERMS} (rowid, terms) SELECT c.rowid, t.terms FROM events e"
                    f" JOIN {HEADS} h ON h.tenant_id = e.tenant_id"
                    f" JOIN {TERMS} t ON t.rowid = e.rowid"
                    " JOIN events c ON c.tenant_id = e.tenant_id"
                    f" AND c.seq = e.seq + {number} * h.last_seq"
                    " WHERE e.seq <= h.last_seq"
                )
    for number, index in enumerate(indexes, 1):
        with _step(f"index {number} of {len(indexes)} rebuilt: {index.name}"):
            execute(index.sql)

    execute(
        f"UPDATE tenants SET last_seq = (SELECT h.last_seq * {copies + 1} FROM {HEADS} h"
        f" WHERE h.tenant_id = tenants.id) WHERE id IN (SELECT tenant_id FROM {HEADS})"
    )
    execute(f"DROP TABLE {HEADS}")
    with _step("statistics (ANALYZE)"):
        execute("ANALYZE")
    if sqlite:
        execute("PRAGMA journal_mode=WAL")
    else:
        with _step("events vacuumed (VACUUM)"):
            execute("VACUUM events")


@contextmanager
def _step(what: str) -> Iterator[None]:
    """Prints ``what`` with the seconds it took, once done."""
    started = time.perf_counter()
    yield
    print(f"  {what} ({time.perf_counter() - started:.1f} s)", flush=True)
