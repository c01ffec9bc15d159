"""The SQLite store: one file, WAL, ``synchronous=FULL`` so a commit survives a power cut.

Writers serialise on SQLite's own write lock, taken at the start of each append
(``BEGIN IMMEDIATE``) before the chain heads are read, so any number of threads or processes
appending to one file keep one chain per tenant.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kansa import private_files
from kansa.dburl import path_of as path_of  # re-exported: tests and bench read it here
from kansa.errors import NotFound, StoreError
from kansa.events.prepare import PreparedEvent
from kansa.events.query import Query
from kansa.events.stored import StoredEvent
from kansa.integrity.chain import Head, StoredLink
from kansa.integrity.rowwalk import ChainRow
from kansa.records import Tenant
from kansa.store import prune, rows
from kansa.store import search as search_sql
from kansa.store import terms as index
from kansa.store.base import Prune, Pruned, Receipt
from kansa.store.batch import Batch
from kansa.store.engine import Broken, SQLEngine, stream_sql, streamed
from kansa.store.schema import EVENT_ROW
from kansa.store.unavailable import translating

INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(EVENT_ROW)}) VALUES ({', '.join('?' * len(EVENT_ROW))})"
)
"""How this store inserts a row of :func:`kansa.store.rows.event_row` (``executemany``)."""
SLICE = 2000
"""Rows a long read (a chain walk, an export) takes at a time, a statement each."""
WAL_PAGES = 10_000
"""Pages (4 KiB each) the ``-wal`` file takes before a commit copies them into the database
file (SQLite's own default is 1,000). The commit that passes the mark does the copy, on the
writer's turn: at a million events that copy was a fifth of an append's time, the same index
and free-text pages copied again every 4 MiB. Ten times fewer copies, each of pages written
many times over, took 25–45% off an append there (docs/benchmarks.md); the ``-wal`` file
grows to about 40 MiB before it starts over."""


class SQLiteStore(SQLEngine):
    """A kansa store in one SQLite file. Safe to share between threads: each thread gets its
    own connection."""

    dialect = "sqlite"
    mark = "?"
    driver_error = sqlite3.Error

    def __init__(self, url: str, *, cache_mib: int = 64) -> None:
        self.url = url
        self.path = path_of(url)
        if self.path != ":memory:":
            with translating(lambda exc: isinstance(exc, OSError)):
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                private_files.make(Path(self.path))  # SQLite gives -wal and -shm its mode
            private_files.check_sqlite(Path(self.path))
        self._cache_mib = cache_mib
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()

    # -- connections -------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with translating(_unavailable):  # a file that cannot be opened
                conn = sqlite3.connect(
                    self.path,
                    isolation_level=None,
                    check_same_thread=False,
                    timeout=30.0,
                    factory=_Connection,
                )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA secure_delete=ON")  # what a prune removes is zeroed
            conn.execute(f"PRAGMA cache_size=-{self._cache_mib * 1024}")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self.db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")  # a full disk or a lock may refuse the commit itself
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                conn.execute("ROLLBACK")
            raise

    def _read_one(
        self, text: str, params: Sequence[Any] = (), *, often: bool = False
    ) -> Sequence[Any] | None:
        # ``often`` needs nothing here: sqlite3 keeps the statements a connection ran prepared
        row: Sequence[Any] | None = self.db.execute(text, params).fetchone()
        return row

    def _read_all(self, text: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return self.db.execute(text, params).fetchall()

    def _transaction(self, statements: Sequence[rows.Bound]) -> None:
        with self._write() as conn:
            for text, values in statements:
                conn.execute(text, values)

    def _broken(self, error: Exception) -> Broken:
        if not isinstance(error, sqlite3.IntegrityError):
            return None
        if "FOREIGN KEY" in str(error):
            return "reference"
        return "unique" if "UNIQUE" in str(error) or "PRIMARY" in str(error) else None

    def _recorded(self, statements: Sequence[rows.Bound], record: PreparedEvent | None) -> int:
        try:
            with self._write() as conn:
                changed = [conn.execute(text, values).rowcount for text, values in statements]
                if changed[0] and record is not None:
                    self._append(conn, [record])
        except sqlite3.Error as exc:
            raise StoreError(f"could not change {statements[0][0].split()[1]}: {exc}") from exc
        return changed[0]

    # -- schema ------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        with self._write() as conn:
            return self._apply_migrations(
                conn.execute, lambda _: index.fill_sqlite(conn.execute, conn.executemany)
            )

    def schema_version(self) -> int:
        try:
            row = self.db.execute("SELECT max(version) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0] or 0)

    # -- events ------------------------------------------------------------------------

    def append(self, events: Sequence[PreparedEvent]) -> list[Receipt]:
        if not events:
            return []
        try:
            with self._write() as conn:
                return self._append(conn, events)
        except sqlite3.Error as exc:
            raise StoreError(f"could not store events: {exc}") from exc

    def _append(self, conn: sqlite3.Connection, events: Sequence[PreparedEvent]) -> list[Receipt]:
        heads: dict[str, Head] = {}
        for event in events:
            if event.tenant_id not in heads:
                heads[event.tenant_id] = self._head(conn, event)
        batch = Batch(heads, self._known_client_ids(conn, events))
        made = list(batch.rows(events))
        (before,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
        conn.executemany(INSERT_EVENT, made)
        # The index terms, in the same transaction, by the rowids the rows were given: one
        # above the largest, each in turn (SQLite's rule while the write lock is held); else,
        # should SQLite have picked others, looked up by key.
        (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
        if made and last == before + len(made):
            conn.executemany(index.SQLITE_INSERT_AT, index.sqlite_rows_at(made, before + 1))
        elif made:
            conn.executemany(index.SQLITE_INSERT, index.sqlite_rows(made))
        conn.executemany(
            "UPDATE tenants SET last_seq = ?, last_hash = ? WHERE id = ?",
            [(head.seq, head.hash, tenant) for tenant, head in batch.moved.items()],
        )
        return batch.receipts

    def _head(self, conn: sqlite3.Connection, event: PreparedEvent) -> Head:
        row = conn.execute(
            "SELECT last_seq, last_hash FROM tenants WHERE id = ?", (event.tenant_id,)
        ).fetchone()
        if row is not None:
            return Head(int(row[0]), str(row[1]))
        conn.execute(
            *self._new_tenant(rows.new_tenant(event.tenant_id, event.tenant_name, event.layout))
        )
        return Head()

    @staticmethod
    def _known_client_ids(
        conn: sqlite3.Connection, events: Sequence[PreparedEvent]
    ) -> dict[tuple[str, str], Receipt]:
        wanted: dict[str, list[str]] = {}
        for event in events:
            if event.client_id is not None:
                wanted.setdefault(event.tenant_id, []).append(event.client_id)
        known: dict[tuple[str, str], Receipt] = {}
        for tenant, client_ids in wanted.items():
            for start in range(0, len(client_ids), 500):
                chunk = client_ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for client_id, event_id, seq, hashed in conn.execute(
                    "SELECT client_id, id, seq, hash FROM events"
                    f" WHERE tenant_id = ? AND client_id IN ({marks})",
                    (tenant, *chunk),
                ):
                    known[(tenant, client_id)] = Receipt(
                        event_id, client_id, tenant, seq, hashed, duplicate=True
                    )
        return known

    def chain(
        self, tenant_id: str, after_seq: int = 0, upto: int | None = None
    ) -> Iterator[StoredLink]:
        for row in self._sliced(tenant_id, after_seq, upto, rows.chain_query):
            yield rows.link_of(row)

    def chain_rows(
        self, tenant_id: str, after_seq: int = 0, upto: int | None = None
    ) -> Iterator[ChainRow]:
        yield from self._sliced(
            tenant_id, after_seq, upto, lambda t, a, u, _: rows.chain_rows_query(t, a, u, "sqlite")
        )

    def _sliced(
        self,
        tenant_id: str,
        after_seq: int,
        upto: int | None,
        query: Callable[[str, int, int | None, str], rows.Bound],
    ) -> Iterator[Any]:
        """The rows of a seq-ordered ``query`` of the tenant's events after ``after_seq`` to
        ``upto`` (else to its last row now), :data:`SLICE` at a time, each slice read whole by
        a statement of its own. One statement reading a chain of a million would hold one
        read snapshot of the file the whole walk: every commit meanwhile would stay in the
        WAL, and the writer's next commit after the walk would copy them all into the file
        at once (seconds, with every append waiting)."""
        if upto is None:
            last = self.db.execute(
                "SELECT max(seq) FROM events WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
            if last is None or last[0] is None:
                return
            upto = int(last[0])
        while after_seq < upto:
            text, params = query(tenant_id, after_seq, upto, "?")
            batch = self.db.execute(f"{text} LIMIT {SLICE}", params).fetchall()
            yield from batch
            if len(batch) < SLICE:
                return
            after_seq = int(batch[-1][0])

    def search(self, query: Query) -> search_sql.Page:
        text, params = search_sql.build(query, self.dialect, via_index=self.via_index(query))
        return search_sql.page(self.db.execute(text, params).fetchall(), query)

    def via_index(self, query: Query) -> index.Via:
        """How a search uses the free-text index (:func:`~kansa.store.terms.sqlite_choice`)."""
        return index.sqlite_choice(query.tenant, search_sql.needles_of(query), self._held)

    def _held(self, matched: str, limit: int) -> int:
        row = self.db.execute(index.SQLITE_COUNT, (matched, limit)).fetchone()
        return int(row[0])

    def stream(self, query: Query, batch: int = 2000) -> Iterator[StoredEvent]:
        text, params, narrow = stream_sql(query, self.dialect)
        # A connection of its own: a long export must not hold the thread's connection.
        conn = sqlite3.connect(
            self.path, check_same_thread=False, timeout=30.0, factory=_Connection
        )
        try:
            cursor = conn.execute(text, params)
            while rows := cursor.fetchmany(batch):
                for row in rows:
                    yield streamed(row, narrow)
        finally:
            conn.close()

    # -- retention and legal hold --------------------------------------------------------

    def prune(self, order: Prune, record: Callable[[Pruned], PreparedEvent | None]) -> Pruned:
        try:
            with self._write() as conn:
                pruned = self._prune(conn, order, record)
        except sqlite3.Error as exc:
            raise StoreError(f"could not prune tenant {order.tenant!r}: {exc}") from exc
        if pruned.count:  # the old pages out of the WAL too (secure_delete zeroed them here)
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return pruned

    def _prune(
        self,
        conn: sqlite3.Connection,
        order: Prune,
        record: Callable[[Pruned], PreparedEvent | None],
    ) -> Pruned:
        prune.refusal(
            order,
            conn.execute(prune.TENANT.format(mark="?"), (order.tenant,)).fetchone(),
            conn.execute(prune.UPTO.format(mark="?"), (order.tenant, order.upto_seq)).fetchone(),
        )
        taken = prune.commitments(conn.execute(*prune.candidates(order, "?")).fetchall(), order)
        if taken:
            # The permit lives only inside this transaction: the UPDATE trigger lets through
            # exactly a prune of the rows it covers.
            conn.execute(
                "INSERT INTO purge_permits (tenant_id, through_seq) VALUES (?, ?)",
                (order.tenant, order.upto_seq),
            )
            # One UPDATE for the stretch, from a table of the rows: an UPDATE a row, each its
            # own statement, made the free-text index write out its pending changes at every
            # statement (~75 µs a row, three times the rest of the prune).
            conn.execute(PRUNE_ROWS)
            conn.executemany(
                "INSERT INTO temp.prune_rows (seq, kept) VALUES (?, ?)",
                [(seq, kept) for seq, kept, _ in taken],
            )
            conn.execute(
                f"UPDATE events SET {prune.assignments('?', 'r.kept')}"
                " FROM temp.prune_rows AS r WHERE events.tenant_id = ? AND events.seq = r.seq",
                (b"", order.reason, order.tenant),
            )
            conn.execute("DELETE FROM temp.prune_rows")
            conn.execute("DELETE FROM purge_permits WHERE tenant_id = ?", (order.tenant,))
        pruned = prune.outcome(order, taken)
        event = record(pruned)
        if event is not None:
            self._append(conn, [event])
        return pruned

    def set_legal_hold(self, tenant_id: str, reason: str | None, record: PreparedEvent) -> Tenant:
        try:
            with self._write() as conn:
                changed = conn.execute(*rows.legal_hold_statement(tenant_id, reason, "?")).rowcount
                if not changed:
                    raise NotFound(f"no tenant {tenant_id!r}")
                self._append(conn, [record])
        except sqlite3.Error as exc:
            raise StoreError(f"could not change the legal hold of {tenant_id!r}: {exc}") from exc
        return self._tenant(tenant_id)


PRUNE_ROWS = (
    "CREATE TEMP TABLE IF NOT EXISTS prune_rows (seq INTEGER PRIMARY KEY, kept BLOB NOT NULL)"
)
"""The rows a prune empties and the commitment each keeps, in the connection's own temporary
store for the length of its transaction."""


class _Connection(sqlite3.Connection):
    """A connection whose statements raise :class:`~kansa.errors.StoreUnavailable`, not
    sqlite3's error, when the file is locked past the timeout, read-only, full or cannot be
    opened: every read and write goes through these two methods."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        with translating(_unavailable):
            return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        with translating(_unavailable):
            return super().executemany(sql, parameters)


_UNAVAILABLE = {
    sqlite3.SQLITE_BUSY,  # locked past busy_timeout
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_READONLY,  # the file or its directory cannot be written
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,  # out of disk
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL,
}


def _unavailable(exc: Exception) -> bool:
    """Whether ``exc`` means the file cannot be used now (its primary result code)."""
    code = exc.sqlite_errorcode if isinstance(exc, sqlite3.Error) else None
    return code is not None and code & 0xFF in _UNAVAILABLE
