"""Real locks held by another connection, for the tests of what kansa does while its database
makes it wait: the writer's group commit, and a read that must not stall the event loop."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager

import psycopg

from kansa.events.prepare import PreparedEvent
from kansa.server.writer import Writer
from kansa.store import Receipt
from kansa.store.sqlite import path_of


@contextmanager
def chain_held(url: str, tenant: str) -> Iterator[None]:
    """Another connection holds what an append to ``tenant`` must take: SQLite's write lock,
    or the tenant's row on PostgreSQL. Appends wait until the block ends."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(path_of(url), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(url) as pg:
        pg.execute("SELECT 1 FROM tenants WHERE id = %s FOR UPDATE", (tenant,))
        try:
            yield
        finally:
            pg.rollback()


@contextmanager
def table_held(url: str, table: str) -> Iterator[None]:
    """Another PostgreSQL connection holds ``table`` locked against reading too (SQLite's
    WAL lets a reader past any writer, so there is no such lock there)."""
    with psycopg.connect(url) as pg:
        pg.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()


def wait_for_lock_waiter(url: str, timeout: float = 10.0) -> None:
    """Return once some session of ``url``'s PostgreSQL database is waiting for a lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as pg:
        while time.monotonic() < deadline:
            row = pg.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise AssertionError("no session came to wait for the lock")


@contextmanager
def taken_and_held(
    writer: Writer, url: str, tenant: str, events: Sequence[PreparedEvent]
) -> Iterator[Future[list[Receipt]]]:
    """``events`` given to ``writer`` while :func:`chain_held` holds ``tenant``: the block
    runs once the process committing them has taken them and waits for the lock, with their
    future; the lock is let go when it ends."""
    with chain_held(url, tenant):
        future = writer.submit(events)
        time.sleep(0.3)  # taken, and waiting for the lock
        yield future
