"""The PostgreSQL store: many kansa processes on one database, events partitioned by month.

Writers serialise per tenant on the tenant's row: each append locks the rows of the tenants
it touches (``SELECT … FOR UPDATE``, in id order so two appends cannot deadlock) before it
reads the chain heads, so any number of threads or processes keep one chain per tenant.

``events`` is partitioned by month of ``occurred_at`` (microseconds since the epoch, UTC
month bounds). Partitions are made ahead on :meth:`PostgresStore.migrate` and on demand when a
batch touches a month that has none (a late or back-dated event), in a short transaction of
their own under an advisory lock. A partitioned table cannot enforce uniqueness without its
partition key, so client ids are kept unique in ``event_keys``, a plain table.

Connections come from a small pool and use ``prepare_threshold=None``: psycopg's server-side
prepared statements switch to generic plans that are far slower for searches.
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.adapt import PyFormat
from psycopg.conninfo import conninfo_to_dict
from psycopg.errors import CheckViolation, ForeignKeyViolation, LockNotAvailable, UniqueViolation
from psycopg_pool import ConnectionPool

from kansa.errors import ConfigError, NotFound, StoreError, StoreUnavailable
from kansa.events.prepare import PreparedEvent
from kansa.events.query import Query
from kansa.events.stored import StoredEvent
from kansa.integrity.chain import Head, StoredLink
from kansa.records import Tenant
from kansa.store import rows
from kansa.store import search as search_sql
from kansa.store.base import Cut, Purged, Receipt
from kansa.store.batch import Batch
from kansa.store.engine import Broken, SQLEngine
from kansa.store.schema import EVENT_KEY_ROW, EVENT_ROW
from kansa.store.unavailable import first_line, translating
from kansa.timeutil import to_micros, utcnow

DEFAULT_POOL_SIZE = 8
"""Most connections one store (one kansa process) opens; one is kept open when idle."""

MONTHS_BACK, MONTHS_AHEAD = 2, 3
"""Partitions :meth:`PostgresStore.migrate` makes around the current month."""

_DDL_LOCK = 0x6B616E7361  # "kansa": the advisory lock every schema change takes
# Binary COPY (a quarter faster than text here) needs each column's type.
COPY_TYPES = {"seq": "int8", "occurred_at": "int8", "received_at": "int8", "body": "bytea"}
COPY_EVENTS = (
    f"COPY events ({', '.join(EVENT_ROW)}) FROM STDIN (FORMAT BINARY)",
    [COPY_TYPES.get(column, "text") for column in EVENT_ROW],
)
"""How this store copies rows of :func:`kansa.store.rows.event_row` (see :func:`copy_rows`)."""
COPY_KEYS = (
    f"COPY event_keys ({', '.join(EVENT_KEY_ROW)}) FROM STDIN (FORMAT BINARY)",
    [COPY_TYPES.get(column, "text") for column in EVENT_KEY_ROW],
)
"""How this store copies rows of :func:`kansa.store.rows.key_row`."""
_PARTITION = re.compile(r"^events_y(\d{4})m(\d{2})$")
DROP_LOCK_TIMEOUT = "5s"
"""How long a purge waits to drop a whole partition before deleting its rows one by one."""

Month = tuple[int, int]


class PostgresStore(SQLEngine):
    """A kansa store in a PostgreSQL database. Safe to share between threads."""

    dialect = "postgresql"
    mark = "%s"
    tenant_order = 'id COLLATE "C"'  # byte order, as SQLite sorts
    driver_error = psycopg.Error

    def __init__(
        self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE, connect_timeout: int = 10
    ) -> None:
        if pool_size < 1:
            raise ConfigError(f"pool_size must be at least 1, not {pool_size}")
        self.url = url
        connect_timeout = timeout_of(url, connect_timeout)
        options: dict[str, Any] = {
            "autocommit": True,
            "prepare_threshold": None,
            "application_name": "kansa",
            "connect_timeout": connect_timeout,
        }
        try:  # fail now, with the server's reason, rather than at the pool's timeout
            psycopg.connect(url, **options).close()
        except psycopg.Error as exc:
            kind = StoreUnavailable if _unavailable(exc) else StoreError
            raise kind(f"cannot connect to PostgreSQL: {first_line(exc)}") from exc
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = _Pool(
            url,
            kwargs=options,
            min_size=1,
            max_size=pool_size,
            open=True,
            name="kansa",
            configure=configure,
            timeout=connect_timeout,
        )
        self._months: set[Month] = set()
        self._months_lock = threading.Lock()

    def close(self) -> None:
        self._pool.close()

    def _read_one(self, text: str, params: Sequence[Any] = ()) -> Sequence[Any] | None:
        with self._pool.connection() as conn:
            return conn.execute(text, params).fetchone()

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
            applied = self._apply_migrations(conn.execute)
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
        """Make the monthly partitions of ``events`` that ``months`` lack; return the names of
        those made. Safe to call from any number of processes at once."""
        with self._months_lock:
            wanted = set(months) - self._months
        if not wanted:
            return []
        names = {partition_name(month): month for month in wanted}
        made: list[str] = []
        with self._pool.connection() as conn:
            if _missing(conn, list(names)):
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
                    for name in _missing(conn, list(names)):
                        low, high = month_bounds(names[name])
                        conn.execute(
                            sql.SQL(
                                "CREATE TABLE IF NOT EXISTS {} PARTITION OF events"
                                " FOR VALUES FROM ({}) TO ({})"
                            ).format(sql.Identifier(name), sql.Literal(low), sql.Literal(high))
                        )
                        made.append(name)
        with self._months_lock:
            self._months |= wanted
        return made

    # -- events ------------------------------------------------------------------------

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
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            return _append(cur, events)

    def chain(
        self, tenant_id: str, after_seq: int = 0, upto: int | None = None
    ) -> Iterator[StoredLink]:
        with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="kansa_chain", binary=True) as cur,
        ):
            cur.itersize = 2000
            cur.execute(*rows.chain_query(tenant_id, after_seq, upto, "%s"))
            for row in cur:
                yield rows.link_of(row)

    def search(self, query: Query) -> search_sql.Page:
        text, params = search_sql.build(query, self.dialect)
        with self._pool.connection() as conn:
            # binary results: the stored bytes come as they are, not as hex text to decode
            rows = conn.execute(text, params, binary=True).fetchall()
        return search_sql.page(rows, query)

    def stream(self, query: Query, batch: int = 2000) -> Iterator[StoredEvent]:
        text, params = search_sql.build(query, self.dialect, paged=False)
        with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="kansa_stream", binary=True) as cur,
        ):
            cur.itersize = batch
            cur.execute(text, params)
            for row in cur:
                yield search_sql.event_of(row[0], row[1])

    # -- retention and legal hold --------------------------------------------------------

    def purge(self, cuts: Sequence[Cut], record: Callable[[Purged], PreparedEvent]) -> list[Purged]:
        """Every cut in one transaction, so that a month partition holding nothing but
        purged events (of any of the tenants) can be dropped whole instead of row by row."""
        if not cuts:
            return []
        self.ensure_partitions([_month_of(utcnow())])  # for the purge events themselves
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                purged = _purge(conn, cur, cuts, record)
        except psycopg.Error as exc:
            raise StoreError(f"could not purge: {exc}") from exc
        if purged:
            with self._months_lock:  # made again on demand should a late event need one
                self._months -= {_month_of_partition(name) for name in purged[0].partitions}
        return purged

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


def configure(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Set up a connection as the store's pool does (raw ones, too, to compare with)."""
    # Binary COPY picks a dumper by column type; for bytea psycopg's default is a pure-Python
    # one (kept for its DB-API ``Binary`` wrapper). Use the compiled one, as for parameters.
    conn.adapters.register_dumper(bytes, psycopg.adapters.get_dumper(bytes, PyFormat.BINARY))


# -- one append, inside its transaction -------------------------------------------------


def _append(cur: psycopg.Cursor[tuple[Any, ...]], events: Sequence[PreparedEvent]) -> list[Receipt]:
    batch = Batch(_lock_heads(cur, events), _known_client_ids(cur, events))
    copy_rows(cur, COPY_EVENTS, batch.rows(events))  # hashed as the server takes them
    if keys := batch.keys():
        copy_rows(cur, COPY_KEYS, keys)
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
    return batch.receipts


def _lock_heads(
    cur: psycopg.Cursor[tuple[Any, ...]], events: Sequence[PreparedEvent]
) -> dict[str, Head]:
    """Create the tenants first seen here and lock every tenant of ``events``, in id order;
    return each one's chain head."""
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
    cur.execute(
        "SELECT id, last_seq, last_hash FROM tenants WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (ids,),
    )
    return {row[0]: Head(int(row[1]), str(row[2])) for row in cur.fetchall()}


def _known_client_ids(
    cur: psycopg.Cursor[tuple[Any, ...]], events: Sequence[PreparedEvent]
) -> dict[tuple[str, str], Receipt]:
    tenants = [e.tenant_id for e in events if e.client_id is not None]
    client_ids = [e.client_id for e in events if e.client_id is not None]
    if not client_ids:
        return {}
    # One primary-key probe per id, whatever the statistics say: a plain join turns into a
    # hash join over all of event_keys while the table is young (not yet analysed).
    cur.execute(
        "SELECT w.tenant_id, w.client_id, k.id, k.seq, k.hash"
        " FROM unnest(%b::text[], %b::text[]) AS w (tenant_id, client_id)"
        " CROSS JOIN LATERAL (SELECT id, seq, hash FROM event_keys"
        " WHERE tenant_id = w.tenant_id AND client_id = w.client_id LIMIT 1) AS k",
        (tenants, client_ids),  # %b: arrays of text cost far less to send in binary
    )
    return {
        (tenant, client_id): Receipt(event_id, client_id, tenant, seq, hashed, duplicate=True)
        for tenant, client_id, event_id, seq, hashed in cur.fetchall()
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


# -- one purge, inside its transaction ---------------------------------------------------


def _purge(
    conn: psycopg.Connection[tuple[Any, ...]],
    cur: psycopg.Cursor[tuple[Any, ...]],
    cuts: Sequence[Cut],
    record: Callable[[Purged], PreparedEvent],
) -> list[Purged]:
    # The DELETE triggers on events and event_keys let rows through in this transaction only.
    cur.execute("SELECT set_config('kansa.purge', 'on', true)")
    valid = _still_valid(cur, cuts)
    if not valid:
        return []
    ranges = (
        [c.tenant for c in valid],
        [c.first_seq for c in valid],
        [c.last_seq for c in valid],
    )
    dropped = [name for name in _old_partitions(cur) if _drop_if_covered(conn, name, ranges)]
    for cut in valid:  # one index range scan per tenant and table
        for table in ("events", "event_keys"):
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE tenant_id = %s AND seq BETWEEN %s AND %s").format(
                    sql.Identifier(table)
                ),
                (cut.tenant, cut.first_seq, cut.last_seq),
            )
    cur.execute(
        "UPDATE tenants AS t SET chain_start_seq = c.last + 1, chain_start_hash = c.hash"
        " FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS c (id, last, hash)"
        " WHERE t.id = c.id",
        ([c.tenant for c in valid], [c.last_seq for c in valid], [c.last_hash for c in valid]),
    )
    purged = [Purged(c.tenant, c.first_seq, c.last_seq, c.last_hash, tuple(dropped)) for c in valid]
    _append(cur, [record(p) for p in purged])
    return purged


def _still_valid(cur: psycopg.Cursor[tuple[Any, ...]], cuts: Sequence[Cut]) -> list[Cut]:
    """Lock the tenants of ``cuts`` (in id order, as appends do) and keep the cuts that still
    start at their chain's start, end at the hash they name, and are not under legal hold."""
    cur.execute(
        "SELECT id, chain_start_seq, legal_hold FROM tenants WHERE id = ANY(%s)"
        " ORDER BY id FOR UPDATE",
        (sorted({c.tenant for c in cuts}),),
    )
    state = {row[0]: (int(row[1]), row[2]) for row in cur.fetchall()}
    cur.execute(
        "SELECT e.tenant_id, e.seq, e.hash FROM unnest(%s::text[], %s::bigint[]) AS c (t, s)"
        " CROSS JOIN LATERAL (SELECT tenant_id, seq, hash FROM events"
        " WHERE tenant_id = c.t AND seq = c.s LIMIT 1) AS e",
        ([c.tenant for c in cuts], [c.last_seq for c in cuts]),
    )
    hashes = {(row[0], int(row[1])): row[2] for row in cur.fetchall()}
    return [
        c
        for c in cuts
        if state.get(c.tenant) == (c.first_seq, None)
        and hashes.get((c.tenant, c.last_seq)) == c.last_hash
    ]


def _old_partitions(cur: psycopg.Cursor[tuple[Any, ...]]) -> list[str]:
    """The partitions of months that have ended, oldest first."""
    cur.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'events'::regclass"
    )
    now = to_micros(utcnow())
    names = [row[0] for row in cur.fetchall() if _PARTITION.match(row[0])]
    return sorted(name for name in names if month_bounds(_month_of_partition(name))[1] <= now)


def _month_of_partition(name: str) -> Month:
    found = _PARTITION.match(name)
    assert found is not None
    return int(found[1]), int(found[2])


def _drop_if_covered(
    conn: psycopg.Connection[tuple[Any, ...]],
    name: str,
    ranges: tuple[list[str], list[int], list[int]],
) -> bool:
    """Drop partition ``name`` if it holds events and every one is inside ``ranges`` — the
    fast path. Under a savepoint and a lock timeout: a partition that is busy, or holds
    anything else, is left for the row deletes."""
    table = sql.Identifier(name)
    try:
        with conn.transaction():
            before = conn.execute(
                "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                (DROP_LOCK_TIMEOUT,),
            ).fetchone()
            conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(table))  # no inserts
            row = conn.execute(
                sql.SQL(
                    "SELECT EXISTS (SELECT 1 FROM {0}),"
                    " EXISTS (SELECT 1 FROM {0} e WHERE NOT EXISTS (SELECT 1 FROM"
                    " unnest(%s::text[], %s::bigint[], %s::bigint[]) AS c (t, lo, hi)"
                    " WHERE c.t = e.tenant_id AND e.seq BETWEEN c.lo AND c.hi))"
                ).format(table),
                ranges,
            ).fetchone()
            if row is None or not row[0] or row[1]:
                raise _Keep
            conn.execute(sql.SQL("DROP TABLE {}").format(table))
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true)", (before[0] if before else "0",)
            )
    except (_Keep, LockNotAvailable):
        return False
    return True


class _Keep(Exception):
    """Roll back to the savepoint: the partition stays."""


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


def _months_around(year: int, month: int) -> list[Month]:
    index = year * 12 + month - 1
    return [(i // 12, i % 12 + 1) for i in range(index - MONTHS_BACK, index + MONTHS_AHEAD + 1)]


def _missing(conn: psycopg.Connection[tuple[Any, ...]], tables: list[str]) -> list[str]:
    """Those of ``tables`` that do not exist (in the search path)."""
    rows = conn.execute(
        "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL", (tables,)
    ).fetchall()
    return [row[0] for row in rows]
