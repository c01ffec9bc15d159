"""Purging expired events beside the engine's own plain ``UPDATE`` of the same rows.

Two fresh databases get the same demo events (:func:`kansa.demo.fill`, 90 days, six
tenants, untimed); every history of every tenant is then kept 30 days, so about two thirds
have expired. In one, kansa purges: the verify walk each purge starts with (timed apart), then
the prunes — a stretch of 20,000 seqs per transaction, commitments made from the stored
bytes, one ``UPDATE`` per month partition (and stretch) on PostgreSQL, one per row
(``executemany``) on SQLite, the ``retention.purge`` records. In the
other, one plain ``UPDATE`` through the engine's driver empties the same rows to the same
shape (a constant commitment), through the same triggers, in one transaction.

Searches go on throughout, as a tenant administrator's would while ``kansa serve`` purges: a
thread of the same process with its own store runs each tenant's newest page in turn, for two
seconds before the prunes (quiet) and while they run; the p95 of each is reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.engines import Engine
from kansa import retention
from kansa.catalog import Catalog
from kansa.demo import fill
from kansa.events.prepare import PreparedEvent
from kansa.events.query import Query
from kansa.records import TenantChanges
from kansa.store import open_store
from kansa.store.base import Pruned
from kansa.store.prune import assignments
from kansa.timeutil import to_micros, utcnow
from kansa.words import HISTORIES

DAYS = 30


@dataclass
class PurgeRun:
    events: int
    pruned: int
    verify_seconds: float
    prune_seconds: float
    raw_rows: int
    raw_seconds: float
    quiet_searches: list[float]
    """Seconds each search took before the prunes."""
    purge_searches: list[float]
    """Seconds each search took while the prunes ran."""

    @property
    def kansa_seconds(self) -> float:
        return self.verify_seconds + self.prune_seconds


def _filled(engine: Engine, catalog: Catalog, label: str, events: int) -> str:
    url = engine.fresh_url(label)
    store = open_store(url)
    try:
        store.migrate()
        fill(store, catalog, events, batch=1000)
        for tenant in store.list_tenants():
            store.update_tenant(tenant.id, TenantChanges(retention=dict.fromkeys(HISTORIES, DAYS)))
    finally:
        store.close()
    if engine.dialect == "postgresql":  # the statistics autovacuum gathers within a minute
        conn = engine.connect(url)
        try:
            conn.execute("ANALYZE")
        finally:
            conn.close()
    return url


def run_purge(engine: Engine, catalog: Catalog, events: int) -> PurgeRun:
    mine, raw = (_filled(engine, catalog, f"purge-{side}", events) for side in ("kansa", "raw"))
    now = utcnow()
    store = open_store(mine)
    quiet: list[float] = []
    during: list[float] = []
    searcher = _Searcher(mine, [t.id for t in store.list_tenants()])
    try:
        started = time.perf_counter()
        plans = retention.purge(store, catalog, dry_run=True, now=now)  # the verify walks
        verified = time.perf_counter()
        searcher.start(quiet)
        time.sleep(2.0)
        searcher.into(during)
        before_prunes = time.perf_counter()
        pruned = 0
        for plan in plans:
            if plan.order is not None and plan.expired[0]:
                record = _recorder(plan, now, catalog)
                pruned += retention.prune_in_stretches(store, plan.order, record).count
        finished = time.perf_counter()
    finally:
        searcher.stop()
        store.close()
    raw_rows, raw_seconds = _raw_update(engine, raw, now - timedelta(days=DAYS))
    return PurgeRun(
        events,
        pruned,
        verified - started,
        finished - before_prunes,
        raw_rows,
        raw_seconds,
        quiet,
        during,
    )


class _Searcher:
    """Each tenant's newest page, one after another, timed into the list it is given."""

    def __init__(self, url: str, tenants: list[str]) -> None:
        self.url, self.tenants = url, tenants or ["none"]
        self.out: list[float] = []
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-searches", daemon=True)

    def start(self, out: list[float]) -> None:
        self.out = out
        self.thread.start()

    def into(self, out: list[float]) -> None:
        self.out = out

    def stop(self) -> None:
        self.halt.set()
        if self.thread.is_alive():
            self.thread.join()

    def _run(self) -> None:
        store = open_store(self.url)
        try:
            turn = 0
            while not self.halt.is_set():
                query = Query(tenant=self.tenants[turn % len(self.tenants)], limit=50)
                began = time.perf_counter()
                store.search(query)
                self.out.append(time.perf_counter() - began)
                turn += 1
        finally:
            store.close()


def _recorder(
    plan: retention.Plan, now: datetime, catalog: Catalog
) -> Callable[[Pruned], PreparedEvent]:
    """The ``retention.purge`` record of ``plan``'s prune, as :func:`retention.purge` makes it."""

    def record(pruned: Pruned) -> PreparedEvent:
        return retention.purge_event(pruned, plan.tenant, plan.days, now, catalog)

    return record


def _raw_update(engine: Engine, url: str, cutoff: Any) -> tuple[int, float]:
    """One plain UPDATE of every expired row, in one transaction; rows and seconds."""
    conn = engine.connect(url)
    mark = "?" if engine.dialect == "sqlite" else "%s"
    text = (
        f"UPDATE events SET {assignments(mark, mark)} WHERE pruned IS NULL"
        f" AND occurred_at < {mark} AND NOT (product = 'kansa' AND action = 'retention.purge')"
    )
    params = (b"", "retention", b"\0" * 40, to_micros(cutoff))
    try:
        if engine.dialect == "sqlite":
            conn.execute("PRAGMA secure_delete=ON")  # as the store's connections
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO purge_permits SELECT id, last_seq FROM tenants"
            )  # the trigger's permit, as a prune takes it
            started = time.perf_counter()
            rows = conn.execute(text, params).rowcount
            conn.execute("DELETE FROM purge_permits")
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a prune ends
        else:
            started = time.perf_counter()
            with conn.transaction():
                conn.execute("SELECT set_config('kansa.purge', 'on', true)")
                rows = conn.execute(text, params).rowcount
        return rows, time.perf_counter() - started  # the commit included
    finally:
        conn.close()
