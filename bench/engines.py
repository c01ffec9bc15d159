"""The database engines the benchmark knows: where its fresh databases go, and how the
engine's own limit (a plain driver insert of the very rows the store writes) is measured.

SQLite's limit is ``executemany`` of the store's exact tuples; PostgreSQL's is ``COPY`` (binary,
as the store writes) of the same rows into the same partitioned schema. Each engine also opens
a plain driver connection (:meth:`Engine.connect`) for the read parts' raw limits.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

from kansa.events.prepare import PreparedEvent
from kansa.integrity.chain import Chains, StoredLink
from kansa.store import postgres as pg
from kansa.store.rows import event_row, key_row
from kansa.store.sqlite import INSERT_EVENT, SQLiteStore, path_of
from kansa.store.terms import SQLITE_INSERT_AT, sqlite_rows_at
from kansa.timeutil import utcnow

Row = tuple[Any, ...]


class RawInserter(ABC):
    """The engine's plain driver on one fresh database, one transaction at a time."""

    @abstractmethod
    def insert(self, rows: Sequence[Row]) -> float:
        """Insert ``rows`` in one transaction; the seconds it took."""

    @abstractmethod
    def close(self) -> None: ...


class Engine(ABC):
    """One engine: fresh databases on demand, the raw insert limit, a row count."""

    name: str
    dialect: str

    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def connect(self, url: str) -> Any:
        """A plain driver connection to ``url`` (autocommit), set up as the store's is."""

    @abstractmethod
    def fresh_url(self, label: str) -> str:
        """The URL of a new, empty database for one part of the run."""

    @abstractmethod
    def settings(self) -> str:
        """The settings that matter for insert speed, as one line."""

    @abstractmethod
    def row_maker(self) -> Callable[[Sequence[PreparedEvent]], list[Row]]:
        """A function giving the rows the store would insert for successive batches of
        events (chained per tenant from genesis, the chain carried from batch to batch)."""

    @abstractmethod
    def raw_inserter(self, url: str) -> RawInserter:
        """The plain driver on ``url``, with the schema created (untimed) by the store's own
        migrations and the same connection settings as the store."""

    @abstractmethod
    def count_events(self, url: str) -> int: ...

    @abstractmethod
    def size_bytes(self, url: str) -> int | None: ...

    @abstractmethod
    def cleanup(self) -> None:
        """Remove what the run created, unless it was asked to keep it."""


def chained(
    chains: Chains, events: Sequence[PreparedEvent]
) -> Iterator[tuple[PreparedEvent, StoredLink]]:
    """Each event with its link, chained per tenant onto ``chains`` as the stores chain them."""
    for event in events:
        yield event, chains.extend(event.tenant_id, event.core)


class SQLiteRowMaker:
    """The exact row tuples :class:`SQLiteStore` inserts, chain bytes and hashes included."""

    def __init__(self) -> None:
        self.chains = Chains()

    def __call__(self, events: Sequence[PreparedEvent]) -> list[Row]:
        return [event_row(event, stored) for event, stored in chained(self.chains, events)]


class SQLiteInserter(RawInserter):
    def __init__(self, path: str, pragmas: dict[str, Any]) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        for name, value in pragmas.items():
            self._conn.execute(f"PRAGMA {name}={value}")

    def insert(self, rows: Sequence[Row]) -> float:
        conn = self._conn
        # the index terms made untimed, as PostgreSQL's rows are; written as the store does
        (before,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
        terms = sqlite_rows_at(rows, before + 1)
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(INSERT_EVENT, rows)
        conn.executemany(SQLITE_INSERT_AT, terms)
        conn.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self._conn.close()


class SQLiteEngine(Engine):
    name = "sqlite"
    dialect = "sqlite"
    # What the store sets on each connection; the raw connection copies the values the
    # store's connection reports, so both run with the same settings.
    PRAGMAS = (
        "journal_mode",
        "synchronous",
        "cache_size",
        "foreign_keys",
        "busy_timeout",
        "wal_autocheckpoint",
    )

    def __init__(self, url: str | None, *, keep: bool = False) -> None:
        self._keep = keep
        if url is None:
            self._dir = Path(tempfile.mkdtemp(prefix="kansa-bench-"))
            self._stem = "bench"
            self._owned = True
        else:
            path = Path(path_of(url))
            if str(path) == ":memory:":
                raise SystemExit("bench: give a file URL (sqlite:///path/bench.db), not :memory:")
            self._dir = path.resolve().parent
            self._dir.mkdir(parents=True, exist_ok=True)
            self._stem = path.stem
            self._owned = False
        self._pragmas: dict[str, Any] | None = None

    @property
    def where(self) -> Path:
        return self._dir

    def version(self) -> str:
        return sqlite3.sqlite_version

    def connect(self, url: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path_of(url), isolation_level=None, check_same_thread=False)
        for name, value in self._store_pragmas().items():
            conn.execute(f"PRAGMA {name}={value}")
        return conn

    def fresh_url(self, label: str) -> str:
        path = self._dir / f"{self._stem}-{label}.db"
        for extra in ("", "-wal", "-shm"):
            if Path(f"{path}{extra}").exists():
                raise SystemExit(f"bench: {path}{extra} exists; the benchmark needs fresh files")
        return f"sqlite:///{path}"

    def _store_pragmas(self) -> dict[str, Any]:
        if self._pragmas is None:
            url = f"sqlite:///{self._dir / (self._stem + '-pragmas.db')}"
            store = SQLiteStore(url)
            try:
                self._pragmas = {
                    name: store.db.execute(f"PRAGMA {name}").fetchone()[0] for name in self.PRAGMAS
                }
            finally:
                store.close()
                for extra in ("", "-wal", "-shm"):
                    Path(f"{path_of(url)}{extra}").unlink(missing_ok=True)
        return self._pragmas

    def settings(self) -> str:
        pragmas = self._store_pragmas()
        sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
            pragmas["synchronous"], pragmas["synchronous"]
        )
        cache = pragmas["cache_size"]
        cache_text = f"{-cache // 1024} MiB" if cache < 0 else f"{cache} pages"
        return (
            f"journal_mode={pragmas['journal_mode']}, synchronous={sync}, cache {cache_text}, "
            f"wal_autocheckpoint={pragmas['wal_autocheckpoint']} pages"
        )

    def row_maker(self) -> Callable[[Sequence[PreparedEvent]], list[Row]]:
        return SQLiteRowMaker()

    def raw_inserter(self, url: str) -> RawInserter:
        store = SQLiteStore(url)
        try:
            store.migrate()
        finally:
            store.close()
        return SQLiteInserter(path_of(url), self._store_pragmas())

    def count_events(self, url: str) -> int:
        conn = sqlite3.connect(f"file:{path_of(url)}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        finally:
            conn.close()

    def size_bytes(self, url: str) -> int | None:
        path = path_of(url)
        return sum(
            Path(f"{path}{extra}").stat().st_size
            for extra in ("", "-wal")
            if Path(f"{path}{extra}").exists()
        )

    def cleanup(self) -> None:
        if self._keep:
            print(f"databases kept in {self._dir}")
        elif self._owned:
            shutil.rmtree(self._dir, ignore_errors=True)


class PostgresRowMaker:
    """The rows :class:`~kansa.store.postgres.PostgresStore` copies into ``events`` (with
    their index terms) and ``event_keys`` for successive batches, chained per tenant from
    genesis."""

    def __init__(self) -> None:
        self.chains = Chains()

    def __call__(self, events: Sequence[PreparedEvent]) -> list[Row]:
        return [
            (next(pg.with_terms([event_row(event, stored)])), key_row(event, stored))
            for event, stored in chained(self.chains, events)
        ]


class PostgresInserter(RawInserter):
    """Binary ``COPY`` of the events and their client-id keys, one transaction per batch."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        pg.configure(self._conn)

    def insert(self, rows: Sequence[Row]) -> float:
        conn = self._conn
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            pg.copy_rows(cur, pg.COPY_EVENTS, (row for row, _ in rows))
            pg.copy_rows(cur, pg.COPY_KEYS, (key for _, key in rows if key[1] is not None))
        return time.perf_counter() - started

    def close(self) -> None:
        self._conn.close()


class PostgresEngine(Engine):
    """Fresh databases ``kansa_bench_<pid>_<label>`` on the server of ``url`` (made through
    its database, which is left alone), dropped at the end unless kept."""

    name = "postgresql"
    dialect = "postgresql"

    def __init__(self, url: str, *, keep: bool = False) -> None:
        self._admin = url
        self._keep = keep
        self._made: list[str] = []
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                self._version = str(row[0]) if row else "?"
        except psycopg.Error as exc:
            raise SystemExit(f"bench: cannot connect to PostgreSQL at {url}: {exc}") from None
        params = conninfo.conninfo_to_dict(url)
        self.where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"

    def version(self) -> str:
        return self._version

    def _url_of(self, name: str) -> str:
        return conninfo.make_conninfo(self._admin, dbname=name)

    def fresh_url(self, label: str) -> str:
        name = f"kansa_bench_{os.getpid()}_{label}"
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        self._made.append(name)
        params = conninfo.conninfo_to_dict(self._admin)
        user = str(params.get("user", ""))
        host, port = params.get("host", "localhost"), params.get("port", 5432)
        return f"postgresql://{user + '@' if user else ''}{host}:{port}/{name}"

    def settings(self) -> str:
        with psycopg.connect(self._admin, autocommit=True) as conn:
            shown = [
                (n, conn.execute(f"SHOW {n}").fetchone())
                for n in (
                    "shared_buffers",
                    "synchronous_commit",
                    "wal_level",
                    "max_wal_size",
                    "plan_cache_mode",
                )
            ]
        values = [f"{n}={row[0] if row else '?'}" for n, row in shown]
        return ", ".join(values) + (
            "; store and raw connections: searches without free-text words prepared"
        )

    def connect(self, url: str) -> psycopg.Connection[tuple[Any, ...]]:
        conn = psycopg.connect(url, autocommit=True)
        pg.configure(conn)
        return conn

    def row_maker(self) -> Callable[[Sequence[PreparedEvent]], list[Row]]:
        return PostgresRowMaker()

    def raw_inserter(self, url: str) -> RawInserter:
        store = pg.PostgresStore(url, pool_size=1)
        try:
            store.migrate()
            now = utcnow()
            months = {(now.year, now.month)}
            for back in range(1, 5):  # the demo's 90 days, as the store makes on demand
                year, month = divmod(now.year * 12 + now.month - 1 - back, 12)
                months.add((year, month + 1))
            store.ensure_partitions(months)
        finally:
            store.close()
        return PostgresInserter(url)

    def count_events(self, url: str) -> int:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def size_bytes(self, url: str) -> int | None:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else None

    def cleanup(self) -> None:
        if self._keep:
            print(f"databases kept: {', '.join(self._made)}")
            return
        with psycopg.connect(self._admin, autocommit=True) as conn:
            for name in self._made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def engine_for(url: str | None, *, keep: bool = False) -> Engine:
    if url is None or url.startswith("sqlite://"):
        return SQLiteEngine(url, keep=keep)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(url, keep=keep)
    raise SystemExit(f"bench: unsupported database URL {url!r}")
