"""The database engines the benchmark knows: where its fresh databases go, and how the
engine's own limit (a plain driver insert of the very rows the store writes) is measured.

Only SQLite is implemented. A PostgreSQL engine adds a class with the same methods (its raw
limit would be psycopg ``executemany`` or ``COPY`` of the same tuples) and a line in
:func:`engine_for`.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kansa.chain import GENESIS, digest, link
from kansa.events import PreparedEvent
from kansa.store.sqlite import _INSERT_EVENT, SQLiteStore, _row, path_of

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

    @abstractmethod
    def version(self) -> str: ...

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


class SQLiteRowMaker:
    """The exact row tuples :class:`SQLiteStore` inserts, chain bytes and hashes included."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[int, str]] = {}

    def __call__(self, events: Sequence[PreparedEvent]) -> list[Row]:
        heads = self.heads
        rows: list[Row] = []
        for event in events:
            seq, prev = heads.get(event.tenant_id, (0, GENESIS))
            seq += 1
            body = link(event.core, prev, seq)
            hashed = digest(body)
            heads[event.tenant_id] = (seq, hashed)
            rows.append(_row(event, seq, body, hashed, prev))
        return rows


class SQLiteInserter(RawInserter):
    def __init__(self, path: str, pragmas: dict[str, Any]) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        for name, value in pragmas.items():
            self._conn.execute(f"PRAGMA {name}={value}")

    def insert(self, rows: Sequence[Row]) -> float:
        conn = self._conn
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(_INSERT_EVENT, rows)
        conn.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self._conn.close()


class SQLiteEngine(Engine):
    name = "sqlite"
    # What the store sets on each connection; the raw connection copies the values the
    # store's connection reports, so both run with the same settings.
    PRAGMAS = ("journal_mode", "synchronous", "cache_size", "foreign_keys", "busy_timeout")

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
        return f"journal_mode={pragmas['journal_mode']}, synchronous={sync}, cache {cache_text}"

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


def engine_for(url: str | None, *, keep: bool = False) -> Engine:
    if url is None or url.startswith("sqlite://"):
        return SQLiteEngine(url, keep=keep)
    if url.startswith(("postgresql://", "postgres://")):
        raise SystemExit(
            "bench: the PostgreSQL engine is not written yet (add a PostgresEngine in "
            "bench/engines.py); use a sqlite:/// URL or no --db"
        )
    raise SystemExit(f"bench: unsupported database URL {url!r}")
