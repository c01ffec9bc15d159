"""The work the export and verify parts time, each run in a process of its own so that its
peak memory is its own (``python -m bench.child WHAT URL …``). Each prints one
``BENCH-CHILD {json}`` line: rows, bytes, seconds (timed inside the process, so the
interpreter's start is not counted for either side) and its peak RSS (``VmHWM``).

- ``raw-csv URL OUT TENANT…``: the engine's own export of the same rows — SQLite rows through
  ``csv.writer``, PostgreSQL ``COPY (SELECT …) TO STDOUT WITH CSV`` — tenant by tenant.
- ``kansa-export URL OUT TENANT…``: kansa's export as ``kansa export`` runs it
  (:func:`kansa.cli.export.export_as_operator`, the layout's ``events`` CSV), tenant by
  tenant, in one process.
- ``raw-hash URL``: every stored body read with the plain driver and SHA-256 hashed.
- ``kansa-verify URL``: :func:`kansa.integrity.verify.verify_store` over every tenant, with
  the signing key as ``kansa verify`` uses it; its peak RSS counts its worker processes as
  well (the largest one's peak once a core: an upper bound).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import resource
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

RAW_COLUMNS = (
    "occurred_at, app, product, action, category, history, result, level, actor_id, "
    "actor_login, actor_name, ip, target_id, target_name, correlation_id, trace_id, "
    "message_ja, service"
)
"""What the raw export writes: the stored columns behind an export row (18 of them)."""
_RAW_SELECT = f"SELECT {RAW_COLUMNS} FROM events WHERE tenant_id = {{m}} ORDER BY occurred_at, seq"


def _sqlite_path(url: str) -> str:
    from kansa.store.sqlite import path_of

    return path_of(url)


def raw_csv(url: str, out: Path, tenants: list[str]) -> dict[str, Any]:
    rows = 0
    started = time.perf_counter()
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_sqlite_path(url))
        with out.open("w", encoding="utf-8", newline="") as sink:
            writer = csv.writer(sink)
            for tenant in tenants:
                cursor = conn.execute(_RAW_SELECT.format(m="?"), (tenant,))
                while batch := cursor.fetchmany(2000):
                    writer.writerows(batch)
                    rows += len(batch)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as pconn, out.open("wb") as sink:
            for tenant in tenants:
                select = _RAW_SELECT.format(m="%s")
                with pconn.cursor() as cur:
                    query = f"COPY ({select}) TO STDOUT WITH CSV"
                    with cur.copy(query, (tenant,)) as copy:
                        for data in copy:
                            sink.write(data)
                    rows += max(cur.rowcount, 0)
    seconds = time.perf_counter() - started
    return {"rows": rows, "bytes": out.stat().st_size, "seconds": seconds}


def kansa_export(url: str, out: Path, tenants: list[str]) -> dict[str, Any]:
    from kansa.cli.export import export_as_operator
    from kansa.export.plan import Options
    from kansa.server.runtime import Runtime
    from kansa.settings import Settings

    rt = Runtime.from_settings(Settings(database_url=url))
    rt.start()
    rows = 0
    started = time.perf_counter()
    try:
        with out.open("wb") as sink:
            for tenant in tenants:
                _, tally = export_as_operator(rt, tenant, "events", (None, None), Options(), sink)
                rows += tally.rows
    finally:
        rt.close()
    seconds = time.perf_counter() - started
    return {"rows": rows, "bytes": out.stat().st_size, "seconds": seconds}


def raw_hash(url: str) -> dict[str, Any]:
    rows = 0
    sha256 = hashlib.sha256
    select = "SELECT body, hash FROM events ORDER BY tenant_id, seq"
    started = time.perf_counter()
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_sqlite_path(url))
        cursor = conn.execute(select)
        while batch := cursor.fetchmany(2000):
            for body, hashed in batch:
                if sha256(body).hexdigest() != hashed:
                    raise SystemExit("bench: a stored hash does not match (raw-hash)")
            rows += len(batch)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url) as pconn, pconn.cursor(name="bench_hash", binary=True) as cur:
            cur.itersize = 2000
            cur.execute(select)
            while batch := cur.fetchmany(2000):
                for body, hashed in batch:
                    if sha256(body).hexdigest() != hashed:
                        raise SystemExit("bench: a stored hash does not match (raw-hash)")
                rows += len(batch)
    return {"rows": rows, "bytes": 0, "seconds": time.perf_counter() - started}


def kansa_verify(url: str) -> dict[str, Any]:
    from kansa.errors import ConfigError
    from kansa.integrity.keyfile import load_signer
    from kansa.integrity.verify import verify_store
    from kansa.settings import Settings
    from kansa.store import open_store

    settings = Settings(database_url=url)
    try:
        key = load_signer(settings).public_key
    except ConfigError:
        key = None
    store = open_store(url)
    rows = 0
    started = time.perf_counter()
    try:
        for walk in verify_store(store, None, key):
            if walk.broken is not None:
                raise SystemExit(f"bench: verify found {walk.broken}")
            rows += walk.checked
    finally:
        store.close()
    return {"rows": rows, "bytes": 0, "seconds": time.perf_counter() - started}


def _peak_rss_kib() -> int:
    """This process's peak resident set (``VmHWM``; ``ru_maxrss`` of a forked child can
    still count its parent's pages)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main(argv: list[str]) -> int:
    what, url, *rest = argv
    if what == "raw-csv":
        result = raw_csv(url, Path(rest[0]), rest[1:])
    elif what == "kansa-export":
        result = kansa_export(url, Path(rest[0]), rest[1:])
    elif what == "raw-hash":
        result = raw_hash(url)
    elif what == "kansa-verify":
        result = kansa_verify(url)
    else:
        raise SystemExit(f"bench.child: unknown work {what!r}")
    result["hwm_kib"] = _peak_rss_kib()
    if what == "kansa-verify":  # and its workers': the largest, once a core but one
        largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result["hwm_kib"] += largest * max(1, (os.cpu_count() or 1) - 1)
    sys.stdout.write("BENCH-CHILD " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
