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
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.engines import Engine

HEADS = "bench_heads"
"""The table (made here) keeping each tenant's head before the copies."""
TERMS = "event_terms"
"""SQLite's free-text index, where there is one (PostgreSQL's is a column of ``events``)."""


@dataclass(frozen=True)
class Grown:
    before: int
    after: int
    copies: int
    seconds: float


def grow(engine: Engine, url: str, total: int) -> Grown:
    """Copy the events of ``url`` onto themselves until about ``total`` are stored."""
    conn = engine.connect(url)
    try:
        before = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        copies = max(0, -(-total // max(before, 1)) - 1)
        started = time.perf_counter()
        if copies:
            _copy(conn, engine.dialect, copies)
        after = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        return Grown(before, after, copies, time.perf_counter() - started)
    finally:
        conn.close()


def _copy(conn: Any, dialect: str, copies: int) -> None:
    execute = conn.execute
    columns = [d[0] for d in execute("SELECT * FROM events LIMIT 0").description]
    terms = (
        dialect == "sqlite"
        and execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TERMS,)).fetchone() is not None
    )
    execute(f"CREATE TABLE {HEADS} AS SELECT id AS tenant_id, last_seq FROM tenants")
    for number in range(1, copies + 1):
        shown = {
            "seq": f"e.seq + {number} * h.last_seq",
            "id": f"e.id || '.{number}'",
            "client_id": f"e.client_id || '.{number}'",  # NULL stays NULL
        }
        select = ", ".join(shown.get(c, f"e.{c}") for c in columns)
        execute(
            f"INSERT INTO events ({', '.join(columns)}) SELECT {select} FROM events e"
            f" JOIN {HEADS} h ON h.tenant_id = e.tenant_id WHERE e.seq <= h.last_seq"
        )
        if terms:  # SQLite's free-text index is a table of its own, keyed by rowid
            execute(
                f"INSERT INTO {TERMS} (rowid, terms) SELECT c.rowid, t.terms FROM events e"
                f" JOIN {HEADS} h ON h.tenant_id = e.tenant_id"
                f" JOIN {TERMS} t ON t.rowid = e.rowid"
                " JOIN events c ON c.tenant_id = e.tenant_id"
                f" AND c.seq = e.seq + {number} * h.last_seq"
                " WHERE e.seq <= h.last_seq"
            )
        conn.commit()
        print(f"  copy {number} of {copies} stored", flush=True)
    execute(
        f"UPDATE tenants SET last_seq = (SELECT h.last_seq * {copies + 1} FROM {HEADS} h"
        f" WHERE h.tenant_id = tenants.id) WHERE id IN (SELECT tenant_id FROM {HEADS})"
    )
    execute(f"DROP TABLE {HEADS}")
    conn.commit()
    execute("ANALYZE")
    conn.commit()
