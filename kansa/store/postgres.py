"""The PostgreSQL store: many kansa processes on one database, events partitioned by month.

Writers serialise per tenant on the tenant's row: each append locks the rows of the tenants
it touches (``SELECT … FOR UPDATE``, in id order so two appends cannot deadlock) before it
reads the chain heads, so any number of threads or processes keep one chain per tenant. A
small append first tries the heads the store's last append left, unread, in one statement
that locks them the same way and writes only if each still stands there (one wait for the
server instead of four); any other outcome stores nothing and the append goes the long way.

``events`` is partitioned by month of ``occurred_at`` (microseconds since the epoch, UTC
month bounds). Partitions are made ahead on :meth:`PostgresStore.migrate` and on demand when a
batch touches a month of the last year that has none (a late event), in a short transaction
of their own under an advisory lock. An event older than that goes to ``events_old``, the
DEFAULT partition, so back-dated events cannot make hundreds of partitions. Every partition
refuses TRUNCATE, and where the store runs as a superuser, event triggers refuse DROP and
ALTER (DETACH PARTITION, DISABLE TRIGGER) of the append-only tables. A partitioned table
cannot enforce uniqueness without its partition key, so client ids are kept unique in
``event_keys``, a plain table.

Connections come from a small pool. A search without free text is a prepared statement its
connection keeps (:func:`prepared`), which PostgreSQL soon runs by one generic plan where
that costs no more: no 1–2 ms of planning, and an actor's or a kind's newest page read in
half the time. Free text needs a plan made for its words. Three other statements are
prepared: two ``often`` reads (the tenant's row, read before every search, and one event by
its id) and the append onto guessed heads that nearly every commit makes. Searches and the
streams of exports and the console take theirs from a second pool on ``read_url`` when one
is given — a standby that applies every commit before the primary acknowledges it
(``synchronous_commit = remote_apply``), so what was accepted is searchable there at once
(docs/scale.md). A URL may name several hosts (libpq's ``target_session_attrs`` picks one),
so a failover needs no change here: a connection that breaks is dropped from its pool and
the next one finds the new primary.
"""

from __future__ import annotations

import calendar
import re
import select
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.adapt import Dumper, PyFormat
from psycopg.conninfo import conninfo_to_dict
from psycopg.errors import CheckViolation, ForeignKeyViolation, UniqueViolation
from psycopg.pq import Format
from psycopg_pool import ConnectionPool

from kansa.errors import ConfigError, NotFound, StoreError, StoreUnavailable
from kansa.events.prepare import PreparedEvent
from kansa.events.query import Query
from kansa.events.stored import StoredEvent
from kansa.events.terms import index_text
from kansa.integrity.chain import Head, StoredLink
from kansa.integrity.rowwalk import ChainRow
from kansa.records import Tenant
from kansa.store import pgarrays, prune, rows
from kansa.store import search as search_sql
from kansa.store import terms as index
from kansa.store.base import Prune, Pruned, Receipt
from kansa.store.batch import Batch
from kansa.store.engine import Broken, SQLEngine, stream_sql, streamed
from kansa.store.schema import (
    EVENT_KEY_ROW,
    EVENT_ROW,
    PARTITION_STORAGE,
    PARTITION_TRUNCATE,
    TERMS_ROW,
    partition_statistics,
    partition_truncate_trigger,
)
from kansa.store.unavailable import first_line, translating
from kansa.timeutil import to_micros, utcnow

DEFAULT_POOL_SIZE = 8
"""Most connections one store (one kansa process) opens; one is kept open when idle."""
READ_LIFETIME = 300.0
"""Seconds a connection of the read pool is kept before it is made anew: after a failover
and a rejoin the searches move back to the standby within this time."""

GUESSED_MOST = 32
"""Most events an append chains onto the heads its store last left without reading them
(:func:`_append_on`): one wait for the server instead of four, but its rows go in by an
``INSERT`` of arrays, no faster than the ``COPY`` of :func:`_append` once the rows outweigh
the waits (24 events a commit: a fifth less CPU; 40: no clear difference)."""
HEADS_KEPT = 10_000
"""Most tenants whose heads a store keeps as guesses; those moved longest ago are let go."""
GUESS_PAUSE = 1.0
"""Seconds a tenant whose guessed head was wrong is appended to the long way only."""
MONTHS_BACK, MONTHS_AHEAD = 2, 3
"""Partitions :meth:`PostgresStore.migrate` makes around the current month."""
MONTHS_OWN = 12
"""A month this many months before the current one, or later, gets a partition of its own;
the events of older months are kept together in ``events_old``."""
EVENT_TRIGGERS = {"kansa_refuse_drop": "sql_drop", "kansa_refuse_alter": "ddl_command_end"}
"""The event triggers :meth:`PostgresStore.migrate` makes when it runs as a superuser, each
calling the function of its name (made by the migrations)."""

ON_REQUEST_ONLY = 2**62
"""psycopg's ``prepare_threshold``: the count of runs after which it would prepare a statement
itself, out of reach; a statement is prepared only when asked (``prepare=True``)."""
PREPARED_MAX = 16
"""Prepared statements a connection keeps, the least recently used deallocated first. A search
holds its generic plan in the connection's server process: ~0.3 MB over 17 partitions."""

TSVECTOR_OID = pgarrays.KINDS["tsvector"].element
"""PostgreSQL's built-in ``tsvector`` type (a fixed OID, as every built-in type's)."""
_DDL_LOCK = 0x6B616E7361  # "kansa": the advisory lock every schema change takes
_JOB_LOCKS = 0x6B6A6F62  # "kjob": the first half of a background job's advisory lock
# Binary COPY (a quarter faster than text here) needs each column's type.
COPY_TYPES = {
    "seq": "int8",
    "occurred_at": "int8",
    "received_at": "int8",
    "body": "bytea",
    "terms": "tsvector",
}
COPY_EVENTS = (
    f"COPY events ({', '.join((*EVENT_ROW, *TERMS_ROW))}) FROM STDIN (FORMAT BINARY)",
    [COPY_TYPES.get(column, "text") for column in (*EVENT_ROW, *TERMS_ROW)],
)
"""How this store copies rows of :func:`kansa.store.rows.event_row` with their index terms
(see :func:`copy_rows` and :func:`with_terms`)."""
COPY_KEYS = (
    f"COPY event_keys ({', '.join(EVENT_KEY_ROW)}) FROM STDIN (FORMAT BINARY)",
    [COPY_TYPES.get(column, "text") for column in EVENT_KEY_ROW],
)
"""How this store copies rows of :func:`kansa.store.rows.key_row`."""
_PARTITION = re.compile(r"^events_y(\d{4})m(\d{2})$")

Month = tuple[int, int]


class PostgresStore(SQLEngine):
    """A kansa store in a PostgreSQL database. Safe to share between threads."""

    dialect = "postgresql"
    mark = "%s"
    tenant_order = 'id COLLATE "C"'  # byte order, as SQLite sorts
    driver_error = psycopg.Error

    def __init__(
        self,
        url: str,
        *,
        read_url: str | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: int = 10,
    ) -> None:
        if pool_size < 1:
            raise ConfigError(f"pool_size must be at least 1, not {pool_size}")
        self.url = url
        self._pool = _open_pool(url, "kansa", pool_size, connect_timeout)
        self._reads = self._pool
        if read_url is not None:
            try:
                self._reads = _open_pool(
                    read_url, "kansa-read", pool_size, connect_timeout, lifetime=READ_LIFETIME
                )
            except BaseException:
                self._pool.close()
                raise
        self._months: set[Month] = set()
        self._months_lock = threading.Lock()
        self._heads = Heads()

    def close(self) -> None:
        if self._reads is not self._pool:
            self._reads.close()
        self._pool.close()

    def _read_one(
        self, text: str, params: Sequence[Any] = (), *, often: bool = False
    ) -> Sequence[Any] | None:
        # ``often``: prepared, so parsed and planned once a connection (of the server's time,
        # ~80 µs saved on a tenant's row, half of it; ~0.8 ms on one event by its id)
        with self._pool.connection() as conn:
            return conn.execute(text, params, prepare=often).fetchone()

    def _read_all(self, text: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        with self._pool.connection() as conn:
            return list(conn.execute(text, params).fetchall())

    def _transaction(self, statements: Sequence[rows.Bound]) -> None:
        with self._pool.connection() as conn, conn.transaction():
            for text, values in statements:
                conn.execute(text, values)

    def _broken(self, error: Exception) -> Broken:
        if isinstance(error, UniqueViolation):
            return "unique"
        return "reference" if isinstance(error, ForeignKeyViolation) else None

    def _recorded(self, statements: Sequence[rows.Bound], record: PreparedEvent | None) -> int:
        if record is not None:
            self.ensure_partitions([_month_of(record.occurred_at)])
        changed: list[int] = []
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                for text, values in statements:
                    cur.execute(text, values)
                    changed.append(cur.rowcount)
                if changed[0] and record is not None:
                    _append(cur, [record])
        except psycopg.Error as exc:
            raise StoreError(f"could not change {statements[0][0].split()[1]}: {exc}") from exc
        return changed[0]

    # -- schema ------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            conn.execute("SELECT set_config('kansa.migrate', 'on', true)")  # may ALTER events
            applied = self._apply_migrations(
                conn.execute, lambda _: index.fill_postgres(conn.execute)
            )
            _make_event_triggers(conn)
        now = utcnow()
        self.ensure_partitions(_months_around(now.year, now.month))
        return applied

    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            if _missing(conn, ["schema_migrations"]):
                return 0
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0) if row else 0

    def ensure_partitions(self, months: Iterable[Month]) -> list[str]:
        """Make the monthly partitions of ``events`` that ``months`` of the last
        :data:`MONTHS_OWN` months or later lack (older ones are kept in ``events_old``);
        return the names of those made. Safe to call from any number of processes at once."""
        with self._months_lock:
            wanted = set(months) - self._months
        if not wanted:
            return []
        names = {partition_name(m): m for m in wanted if _own_partition(m, utcnow())}
        made: list[str] = []
        with self._pool.connection() as conn:
            if _missing(conn, list(names)):
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
                    for name in _missing(conn, list(names)):
                        if _make_partition(conn, name, month_bounds(names[name])):
                            made.append(name)
        with self._months_lock:
            self._months |= wanted
        return made

    # -- background jobs -----------------------------------------------------------------

    @contextmanager
    def exclusive(self, job: str) -> Iterator[bool]:
        """A session advisory lock ``(_JOB_LOCKS, crc32(job))`` on a connection held for the
        block: the first node to take it runs the job, the others skip the round. A node
        that dies (or loses its connection) lets go of the lock with its session."""
        key = (_JOB_LOCKS, zlib.crc32(job.encode()) & 0x7FFFFFFF)
        with self._pool.connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    _unlock(conn, key)

    # -- events ------------------------------------------------------------------------

    _keyed_tables = ("events", "checkpoints", "event_keys")

    def key_problem(self, tenant_id: str, first_seq: int, last_seq: int) -> tuple[int, str] | None:
        found = self._read_one(rows.KEY_PROBLEM, (tenant_id, first_seq, last_seq) * 2)
        return (int(found[0]), str(found[1])) if found else None

    def key_rows(self, tenant_id: str, first_seq: int, last_seq: int) -> list[ChainRow] | None:
        return [
            tuple(row) for row in self._read_all(rows.KEY_ROWS, (tenant_id, first_seq, last_seq))
        ]

    def append(self, events: Sequence[PreparedEvent]) -> list[Receipt]:
        if not events:
            return []
        months = {_month_of(event.occurred_at) for event in events}
        try:
            try:
                return self._append_once(events, months)
            except CheckViolation as exc:
                if "no partition" not in str(exc):
                    raise
                with self._months_lock:  # a partition was dropped behind our back
                    self._months.clear()
                return self._append_once(events, months)
        except psycopg.Error as exc:
            raise StoreError(f"could not store events: {exc}") from exc

    def _append_once(self, events: Sequence[PreparedEvent], months: set[Month]) -> list[Receipt]:
        self.ensure_partitions(months)
        with self._pool.connection() as conn, conn.cursor() as cur:
            try:
                batch = None
                guessed = (
                    self._heads.of(event.tenant_id for event in events)
                    if len(events) <= GUESSED_MOST
                    else None
                )
                if guessed is not None:
                    batch = _append_on(cur, events, guessed)
                    if batch is None:
                        self._heads.missed(guessed)
                if batch is None:
                    batch = _append(cur, events, commit=True)
            except BaseException:
                _roll_back(conn)
                raise
            self._heads.moved(batch.moved)
            return batch.receipts

    def chain(
        self, tenant_id: str, after_seq: int = 0, upto: int | None = None
    ) -> Iterator[StoredLink]:
        query = rows.chain_query(tenant_id, after_seq, upto, "%s")
        for row in _cursor_rows(self._pool, "kansa_chain", *query):
            yield rows.link_of(row)

    def chain_rows(
        self, tenant_id: str, after_seq: int = 0, upto: int | None = None
    ) -> Iterator[ChainRow]:
        query = rows.chain_rows_query(tenant_id, after_seq, upto, "postgresql")
        yield from _cursor_rows(self._pool, "kansa_chain_rows", *query)

    def search(self, query: Query) -> search_sql.Page:
        text, params = search_sql.build(query, self.dialect)
        with self._reads.connection() as conn:
            # binary results: the stored bytes come as they are, not as hex text to decode
            rows = conn.execute(text, params, binary=True, prepare=prepared(query)).fetchall()
        return search_sql.page(rows, query)

    def stream(self, query: Query, batch: int = 2000) -> Iterator[StoredEvent]:
        text, params, narrow = stream_sql(query, self.dialect)
        for row in _cursor_rows(self._reads, "kansa_stream", text, params, batch):
            yield streamed(row, narrow)

    # -- retention and legal hold --------------------------------------------------------

    def prune(self, order: Prune, record: Callable[[Pruned], PreparedEvent | None]) -> Pruned:
        """One UPDATE per month partition the pruned events occurred in, however many."""
        self.ensure_partitions([_month_of(utcnow())])  # for the record itself
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                return _prune(cur, order, record)
        except psycopg.Error as exc:
            raise StoreError(f"could not prune tenant {order.tenant!r}: {exc}") from exc

    def set_legal_hold(self, tenant_id: str, reason: str | None, record: PreparedEvent) -> Tenant:
        self.ensure_partitions([_month_of(record.occurred_at)])
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.execute(*rows.legal_hold_statement(tenant_id, reason, "%s"))
                if not cur.rowcount:
                    raise NotFound(f"no tenant {tenant_id!r}")
                _append(cur, [record])
        except psycopg.Error as exc:
            raise StoreError(f"could not change the legal hold of {tenant_id!r}: {exc}") from exc
        return self._tenant(tenant_id)


Pool = ConnectionPool[psycopg.Connection[tuple[Any, ...]]]


def _cursor_rows(
    pool: Pool, name: str, text: str, params: Sequence[Any], batch: int = 2000
) -> Iterator[Any]:
    """The rows of a long read, ``batch`` at a time through a server-side cursor ``name``
    (binary: the stored bytes as they are), in one transaction; each batch taken whole
    (the cursor's own iteration costs a Python step a row)."""
    with (
        pool.connection() as conn,
        conn.transaction(),
        conn.cursor(name=name, binary=True) as cur,
    ):
        cur.execute(text, params)
        while True:
            rows = cur.fetchmany(batch)
            yield from rows
            if len(rows) < batch:
                return


def _open_pool(
    url: str, name: str, size: int, connect_timeout: int, lifetime: float = 3600.0
) -> Pool:
    """A pool of connections to ``url``, once one connection was made: a database that
    cannot be reached fails now, with the server's reason, rather than at the pool's timeout."""
    timeout = timeout_of(url, connect_timeout)
    options: dict[str, Any] = {
        "autocommit": True,
        "application_name": name,
        "connect_timeout": timeout,
    }
    try:
        psycopg.connect(url, **options).close()
    except psycopg.Error as exc:
        kind = StoreUnavailable if _unavailable(exc) else StoreError
        raise kind(f"cannot connect to PostgreSQL: {first_line(exc)}") from exc
    return _Pool(
        url,
        kwargs=options,
        min_size=1,
        max_size=size,
        open=True,
        name=name,
        configure=configure,
        # a connection is checked as it is handed out: after a failover the pool drops those
        # to the old primary instead of failing one request with each
        check=check_connection,
        timeout=timeout,
        max_lifetime=lifetime,
    )


def check_connection(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """The pool's check of a connection it hands out: raise if it is dead. A server ends a
    connection by closing it (a failover, a restart, an administrator's terminate): then its
    socket has something to read, the server's last message or the end of the stream, which
    a connection idle in the pool never has. Only such a connection pays psycopg's own check,
    a round trip that finds it dead; a live one costs a poll of its socket, not two round
    trips more for every search (the tenant's row, then the page)."""
    if conn.closed or _readable(conn.fileno()):
        ConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    """Whether the socket ``fd`` has something to read (or was closed) now, without waiting."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _unlock(conn: psycopg.Connection[tuple[Any, ...]], key: tuple[int, int]) -> None:
    """Let go of a job's lock; a connection that cannot is closed, which lets go too."""
    try:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
    except psycopg.Error:
        conn.close()


def timeout_of(url: str, default: int) -> int:
    """The URL's ``connect_timeout`` (seconds), else ``default``: how long connecting, and
    waiting for a connection of the pool, may take before the store gives up."""
    given = conninfo_to_dict(url).get("connect_timeout")
    try:
        return max(1, int(str(given))) if given is not None else default
    except ValueError:
        raise ConfigError(f"connect_timeout must be a number of seconds, not {given!r}") from None


class _Pool(ConnectionPool[psycopg.Connection[tuple[Any, ...]]]):
    """The pool, with the store's error contract at the one place every statement passes:
    a server that is down, refuses or drops connections, or runs out of disk or connections
    is :class:`~kansa.errors.StoreUnavailable` (a connection not had within the timeout
    too), raised before any method's own ``except psycopg.Error`` sees it."""

    @contextmanager
    def connection(
        self, timeout: float | None = None
    ) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with translating(_unavailable), super().connection(timeout) as conn:
            yield conn


_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
"""SQLSTATE classes: connection exception, insufficient resources (disk full, too many
connections), operator intervention (shutdown, cancel), system error (I/O)."""
_UNAVAILABLE_STATES = ("25006", "55P03")
"""A read-only transaction (a standby, or the database set read-only); a lock not had within
``lock_timeout``."""


def _unavailable(exc: Exception) -> bool:
    """Whether ``exc`` means the database cannot be used now. A psycopg error without a
    SQLSTATE is raised by the client: a connection refused, lost or not had in time."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    return state[:2] in _UNAVAILABLE_CLASSES or state in _UNAVAILABLE_STATES


def prepared(query: Query) -> bool:
    """Whether a search for ``query`` runs as a prepared statement its connection keeps: when
    it has no free-text terms. PostgreSQL plans such a statement for its values five times,
    then keeps one generic plan for any values when that plan is estimated to cost no more.
    Measured at a million events (docs/benchmarks.md), that plan reads an actor's or a
    kind's newest page in about half the time, and saves the planning (1–2 ms over a year of
    partitions). How many rows a word of free text matches decides how to read them: its
    search is planned for its words every time (a generic plan was 10–40× slower)."""
    return not query.filters.text


def configure(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Set up a connection as the store's pool does (raw ones, too, to compare with)."""
    # psycopg would prepare any statement run a few times; here only those the store asks
    # for (``prepare=True``: the searches of :func:`prepared`, ``often`` reads, the guessed
    # append)
    conn.prepare_threshold = ON_REQUEST_ONLY
    conn.prepared_max = PREPARED_MAX
    # Binary COPY picks a dumper by column type; for bytea psycopg's default is a pure-Python
    # one (kept for its DB-API ``Binary`` wrapper). Use the compiled one, as for parameters.
    conn.adapters.register_dumper(bytes, psycopg.adapters.get_dumper(bytes, PyFormat.BINARY))
    conn.adapters.register_dumper(None, _TermsDumper)
    for packed, dumper in pgarrays.dumpers():
        conn.adapters.register_dumper(packed, dumper)


class _TermsDumper(Dumper):
    """An index text (:func:`kansa.events.terms.index_text`) as a binary ``tsvector``, for
    the COPY of :data:`COPY_EVENTS` (psycopg has no binary dumper of that type)."""

    format = Format.BINARY
    oid = TSVECTOR_OID

    def dump(self, obj: str) -> bytes:
        return index.tsvector_bytes(obj)


def with_terms(made: Iterable[rows.Row]) -> Iterator[rows.Row]:
    """Rows of ``events`` with their index terms (of the search text) after them."""
    for row in made:
        yield (*row, index_text(None, row[-1]))


# -- one append, inside its transaction -------------------------------------------------


def _append(
    cur: psycopg.Cursor[tuple[Any, ...]], events: Sequence[PreparedEvent], *, commit: bool = False
) -> Batch:
    """Append ``events`` inside the transaction ``cur``'s connection is in — or, with
    ``commit``, in a transaction of their own, begun and committed here (the caller rolls it
    back when this raises). Four waits for the server whatever the batch: the heads locked
    and the client ids looked up (one pipeline, with the BEGIN); the rows copied (two); the
    keys inserted and the heads moved (one pipeline, with the COMMIT)."""
    conn = cur.connection
    with conn.cursor() as heads, conn.cursor() as known:
        with conn.pipeline():
            if commit:
                cur.execute("BEGIN")
            _lock_heads(cur, heads, events)
            asked = _ask_client_ids(known, events)
        batch = Batch(
            {row[0]: Head(int(row[1]), str(row[2])) for row in heads.fetchall()},
            _known_client_ids(known) if asked else {},
        )
    copy_rows(cur, COPY_EVENTS, with_terms(batch.rows(events)))  # hashed as the server takes them
    with conn.pipeline():
        if keys := batch.keys():
            cur.execute(INSERT_KEYS, [list(column) for column in zip(*keys, strict=True)])
        if batch.moved:
            cur.execute(
                "UPDATE tenants AS t SET last_seq = h.seq, last_hash = h.hash"
                " FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS h (id, seq, hash)"
                " WHERE t.id = h.id",
                (
                    list(batch.moved),
                    [head.seq for head in batch.moved.values()],
                    [head.hash for head in batch.moved.values()],
                ),
            )
        if commit:
            cur.execute("COMMIT")
    return batch


def _append_on(
    cur: psycopg.Cursor[tuple[Any, ...]], events: Sequence[PreparedEvent], heads: dict[str, Head]
) -> Batch | None:
    """Append ``events`` chained onto ``heads`` as this store last left them, in one statement
    (:data:`APPEND_ON`) that is its own transaction: one wait for the server instead of
    :func:`_append`'s four, and one statement instead of eight. Nothing is read first, so
    the database checks the guess: the statement locks the heads and writes nothing unless
    each stands where ``heads`` has it, and a client id stored before breaks
    ``event_keys``' primary key. On a wrong guess, or any other refusal, nothing is stored
    and this gives None: :func:`_append` is what the caller does next (and raises what it
    must). The connection is in autocommit and no transaction is open."""
    batch = Batch(heads, {})
    made = list(with_terms(batch.rows(events)))
    moved, keys = batch.moved, batch.keys()
    arrays: list[tuple[str, Sequence[Any]]] = [
        ("text", list(moved)),
        ("int8", [heads[tenant].seq for tenant in moved]),
        ("text", [heads[tenant].hash for tenant in moved]),
        ("int8", [head.seq for head in moved.values()]),
        ("text", [head.hash for head in moved.values()]),
    ]
    key_columns = list(zip(*keys, strict=True)) or [()] * len(EVENT_KEY_ROW)
    arrays += zip(_KINDS_OF_KEYS, key_columns, strict=True)
    arrays += zip(_KINDS_OF_ROWS, zip(*made, strict=True), strict=True)
    try:
        params = [pgarrays.pack(kind, values) for kind, values in arrays]
    except pgarrays.Unpackable:  # a value not of its column's type: the long way says why
        return None
    try:
        # prepared: parsing and planning it took the server ~1.2 ms a commit, running it ~0.5
        found = cur.execute(APPEND_ON, params, prepare=True).fetchone()
    except psycopg.Error:  # a client id stored before, or anything else: the long way
        return None  # finds out, and raises what it must
    return batch if found is not None and found[0] else None


_KINDS_OF_KEYS = [COPY_TYPES.get(column, "text") for column in EVENT_KEY_ROW]
_KINDS_OF_ROWS = COPY_EVENTS[1]
"""The array types :data:`APPEND_ON` takes the keys and the rows in: each array is packed
(:mod:`pgarrays`) and cast as its kind, from this one list."""


def _arrays(kinds: Sequence[str]) -> str:
    return ", ".join(f"%b::{kind}[]" for kind in kinds)


APPEND_ON = (
    "WITH guess AS (SELECT * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::bigint[],"
    " %b::text[]) AS g (id, seq, hash, new_seq, new_hash)),"
    " seen AS (SELECT id, last_seq, last_hash FROM tenants WHERE id IN (SELECT id FROM guess)"
    " ORDER BY id FOR UPDATE),"  # locked in id order, as every append locks
    " whole AS (SELECT count(*) = (SELECT count(*) FROM guess) AS yes FROM seen"
    " JOIN guess AS w"
    " ON seen.id = w.id AND seen.last_seq = w.seq AND seen.last_hash = w.hash),"
    " moved AS (UPDATE tenants AS t SET last_seq = h.new_seq, last_hash = h.new_hash"
    " FROM guess AS h, whole WHERE whole.yes AND t.id = h.id),"
    f" keyed AS (INSERT INTO event_keys ({', '.join(EVENT_KEY_ROW)})"
    f" SELECT k.* FROM unnest({_arrays(_KINDS_OF_KEYS)}) AS k, whole WHERE whole.yes),"
    f" stored AS (INSERT INTO events ({', '.join((*EVENT_ROW, *TERMS_ROW))})"
    f" SELECT e.* FROM unnest({_arrays(_KINDS_OF_ROWS)}) AS e, whole"
    " WHERE whole.yes)"
    " SELECT yes FROM whole"
)
"""One append onto guessed heads: each tenant's guessed head and the head it moves to
(``guess``), the heads locked (their latest committed values, whatever the statement's
snapshot), and only if every one stands where the appender saw it (``whole``)
moved, the keys inserted and the rows. FOR UPDATE returns the row as it is once locked, so a
head another transaction moved since the snapshot fails the guess rather than being missed."""


class Heads:
    """The heads this store's appends last left, per tenant: a guess that spares reading
    them (:func:`_append_on`), never trusted — another process, or another thread of this one,
    may have moved them since. A tenant whose guess missed is not guessed for
    :data:`GUESS_PAUSE` seconds: where several processes append to the same tenants, most
    guesses would miss, and each miss costs a rolled-back try."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._heads: dict[str, Head] = {}
        self._paused: dict[str, float] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def of(self, tenants: Iterable[str]) -> dict[str, Head] | None:
        """The heads of ``tenants``; None unless all are known and none is paused."""
        with self._lock:
            known = self._heads
            try:
                heads = {tenant: known[tenant] for tenant in tenants}
            except KeyError:
                return None
            if self._paused:
                now = self._clock()
                if any(self._paused.get(tenant, now) > now for tenant in heads):
                    return None
            return heads

    def moved(self, heads: dict[str, Head]) -> None:
        with self._lock:
            _keep(self._heads, heads)

    def missed(self, heads: dict[str, Head]) -> None:
        """The guess of ``heads`` was wrong: let them go, and pause guessing them."""
        with self._lock:
            until = self._clock() + GUESS_PAUSE
            for tenant in heads:
                self._heads.pop(tenant, None)
            _keep(self._paused, dict.fromkeys(heads, until))


def _keep(kept: dict[str, Any], news: dict[str, Any]) -> None:
    """Put ``news`` into ``kept`` as the most recent, and let the least recent go beyond
    :data:`HEADS_KEPT`."""
    for key, value in news.items():
        kept.pop(key, None)  # to the end: the first are the least recent
        kept[key] = value
    while len(kept) > HEADS_KEPT:
        del kept[next(iter(kept))]


INSERT_KEYS = (
    f"INSERT INTO event_keys ({', '.join(EVENT_KEY_ROW)}) SELECT * FROM unnest("
    + ", ".join(f"%b::{COPY_TYPES.get(column, 'text')}[]" for column in EVENT_KEY_ROW)
    + ")"
)
"""The ``event_keys`` rows of one append, as one statement of arrays (it can then share the
COMMIT's exchange with the server, which a COPY cannot)."""


def _roll_back(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """End the transaction an append left open; a connection that cannot is closed (the pool
    then drops it), which ends it too."""
    if conn.closed or conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return
    try:
        conn.rollback()
    except psycopg.Error:
        conn.close()


def _lock_heads(
    cur: psycopg.Cursor[tuple[Any, ...]],
    heads: psycopg.Cursor[tuple[Any, ...]],
    events: Sequence[PreparedEvent],
) -> None:
    """Create the tenants first seen here and lock every tenant of ``events``, in id order;
    ``heads`` is then to give each one's (id, last seq, last hash)."""
    first: dict[str, PreparedEvent] = {}
    for event in events:
        first.setdefault(event.tenant_id, event)
    ids = sorted(first)
    new = [rows.new_tenant(i, first[i].tenant_name, first[i].layout) for i in ids]
    cur.execute(
        f"INSERT INTO tenants ({rows.NEW_TENANT_COLUMNS}) SELECT * FROM unnest(%s::text[],"
        " %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],"
        " %s::text[]) ORDER BY 1 ON CONFLICT (id) DO NOTHING",
        [list(column) for column in zip(*new, strict=True)],
    )
    heads.execute(
        "SELECT id, last_seq, last_hash FROM tenants WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (ids,),
    )


def _ask_client_ids(
    known: psycopg.Cursor[tuple[Any, ...]], events: Sequence[PreparedEvent]
) -> bool:
    """Look up which client ids of ``events`` are stored already (``known`` is then to give
    them); False when no event has one."""
    tenants = [e.tenant_id for e in events if e.client_id is not None]
    client_ids = [e.client_id for e in events if e.client_id is not None]
    if not client_ids:
        return False
    # One primary-key probe per id, whatever the statistics say: a plain join turns into a
    # hash join over all of event_keys while the table is young (not yet analysed).
    known.execute(
        "SELECT w.tenant_id, w.client_id, k.id, k.seq, k.hash"
        " FROM unnest(%b::text[], %b::text[]) AS w (tenant_id, client_id)"
        " CROSS JOIN LATERAL (SELECT id, seq, hash FROM event_keys"
        " WHERE tenant_id = w.tenant_id AND client_id = w.client_id LIMIT 1) AS k",
        (tenants, client_ids),  # %b: arrays of text cost far less to send in binary
    )
    return True


def _known_client_ids(known: psycopg.Cursor[tuple[Any, ...]]) -> dict[tuple[str, str], Receipt]:
    return {
        (tenant, client_id): Receipt(event_id, client_id, tenant, seq, hashed, duplicate=True)
        for tenant, client_id, event_id, seq, hashed in known.fetchall()
    }


def copy_rows(
    cur: psycopg.Cursor[tuple[Any, ...]],
    how: tuple[str, list[str]],
    values: Iterable[tuple[Any, ...]],
) -> None:
    """Binary ``COPY`` of ``values`` as ``how`` (:data:`COPY_EVENTS`, :data:`COPY_KEYS`) says."""
    statement, types = how
    with cur.copy(statement) as copy:
        copy.set_types(types)
        for row in values:
            copy.write_row(row)


# -- one prune, inside its transaction ---------------------------------------------------


def _prune(
    cur: psycopg.Cursor[tuple[Any, ...]],
    order: Prune,
    record: Callable[[Pruned], PreparedEvent | None],
) -> Pruned:
    cur.execute(prune.TENANT.format(mark="%s") + " FOR UPDATE", (order.tenant,))
    tenant = cur.fetchone()
    cur.execute(prune.UPTO.format(mark="%s"), (order.tenant, order.upto_seq))
    prune.refusal(order, tenant, cur.fetchone())
    cur.execute(*prune.candidates(order, "%s"))
    taken = prune.commitments(cur.fetchall(), order)
    # The partition each row is in: its month's, or events_old for months older than that.
    cur.execute(
        "SELECT seq, tableoid::regclass::text FROM events WHERE tenant_id = %s AND seq = ANY(%s)",
        (order.tenant, [seq for seq, _, _ in taken]),
    )
    held: dict[int, str] = {int(seq): str(name) for seq, name in cur.fetchall()}
    partitions: dict[str, list[tuple[int, bytes]]] = {}
    for seq, kept, _ in taken:
        partitions.setdefault(held[seq], []).append((seq, kept))
    # The UPDATE trigger lets a prune through in this transaction only.
    cur.execute("SELECT set_config('kansa.purge', 'on', true)")
    for name, items in sorted(partitions.items()):
        cur.execute(
            sql.SQL(
                "UPDATE {} AS e SET "
                + prune.assignments("%s", "u.commitment")
                + ", terms = NULL"
                + " FROM unnest(%s::bigint[], %s::bytea[]) AS u (seq, commitment)"
                " WHERE e.tenant_id = %s AND e.seq = u.seq"
            ).format(sql.Identifier(name)),
            (b"", order.reason, [s for s, _ in items], [k for _, k in items], order.tenant),
        )
    pruned = prune.outcome(order, taken, sorted(partitions))
    event = record(pruned)
    if event is not None:
        _append(cur, [event])
    return pruned


# -- months and partitions ----------------------------------------------------------------


def partition_name(month: Month) -> str:
    """``(2026, 11)`` → ``events_y2026m11``."""
    return f"events_y{month[0]:04d}m{month[1]:02d}"


def month_bounds(month: Month) -> tuple[int, int]:
    """The partition bounds of ``month``: its first microsecond (UTC) and the next month's."""
    year, number = month
    start = to_micros(datetime(year, number, 1, tzinfo=UTC))
    days = calendar.monthrange(year, number)[1]
    return start, start + days * 86_400_000_000


def _month_of(moment: datetime) -> Month:
    utc = moment.astimezone(UTC)
    return utc.year, utc.month


def _own_partition(month: Month, now: datetime) -> bool:
    """Whether ``month`` gets a partition of its own: it began at most :data:`MONTHS_OWN`
    months before ``now``'s month."""
    return month[0] * 12 + month[1] >= now.year * 12 + now.month - MONTHS_OWN


def _make_partition(
    conn: psycopg.Connection[tuple[Any, ...]], name: str, bounds: tuple[int, int]
) -> bool:
    """Make the partition ``name`` for ``bounds``, refusing TRUNCATE; False (and nothing
    made) when ``events_old`` already holds events of that month: they stay there."""
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})"
                    f" WITH ({PARTITION_STORAGE})"
                ).format(sql.Identifier(name), sql.Literal(bounds[0]), sql.Literal(bounds[1]))
            )
            guarded = conn.execute(  # another process may have made it meanwhile
                "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(%s)"
                " AND tgname = %s)",
                (name, PARTITION_TRUNCATE),
            ).fetchone()
            if guarded and not guarded[0]:
                conn.execute(partition_truncate_trigger(sql.Identifier(name).as_string(conn)))
            conn.execute(
                partition_statistics(
                    sql.Identifier(name).as_string(conn),
                    sql.Identifier(f"{name}_kinds").as_string(conn),
                )
            )
    except CheckViolation:
        return False
    return True


def _make_event_triggers(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """The event triggers of :data:`EVENT_TRIGGERS` that are missing, if this role may make
    them (a superuser); otherwise nothing (docs/operations.md says what that leaves open)."""
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if not row or not row[0]:
        return
    have = {r[0] for r in conn.execute("SELECT evtname FROM pg_event_trigger").fetchall()}
    for name, event in EVENT_TRIGGERS.items():
        if name not in have:
            when = " WHEN TAG IN ('ALTER TABLE')" if event == "ddl_command_end" else ""
            conn.execute(
                sql.SQL("CREATE EVENT TRIGGER {} ON {}" + when + " EXECUTE FUNCTION {}()").format(
                    sql.Identifier(name), sql.Identifier(event), sql.Identifier(name)
                )
            )


def _months_around(year: int, month: int) -> list[Month]:
    index = year * 12 + month - 1
    return [(i // 12, i % 12 + 1) for i in range(index - MONTHS_BACK, index + MONTHS_AHEAD + 1)]


def _missing(conn: psycopg.Connection[tuple[Any, ...]], tables: list[str]) -> list[str]:
    """Those of ``tables`` that do not exist (in the search path)."""
    rows = conn.execute(
        "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL", (tables,)
    ).fetchall()
    return [row[0] for row in rows]
