"""The SQLite store: one file, WAL, ``synchronous=FULL`` so a commit survives a power cut.

Writers serialise on SQLite's own write lock, taken at the start of each append
(``BEGIN IMMEDIATE``) before the chain heads are read, so any number of threads or processes
appending to one file keep one chain per tenant.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from kansa.errors import Conflict, NotFound, StoreError
from kansa.events.prepare import PreparedEvent
from kansa.events.query import Query
from kansa.integrity.chain import GENESIS, StoredLink, digest, link
from kansa.integrity.signing import Checkpoint
from kansa.records import Account, ApiKey, Tenant, TenantChanges
from kansa.store import checkpoints as shared
from kansa.store import search as search_sql
from kansa.store.base import Cut, Purged, Receipt
from kansa.store.schema import EVENT_COLUMNS, EVENT_ROW, MIGRATIONS, render
from kansa.store.unavailable import translating
from kansa.timeutil import from_micros, iso_utc, to_micros, utcnow

_INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(EVENT_ROW)}) VALUES ({', '.join('?' * len(EVENT_ROW))})"
)
_LINK_COLUMNS = ", ".join(column for column, _ in EVENT_COLUMNS)
_TENANT_COLUMNS = shared.TENANT_COLUMNS
_ACCOUNT_COLUMNS = "tenant_id, login, name, role, password_hash, failures, locked_until"


def path_of(url: str) -> str:
    """``sqlite:///./kansa.db`` → ``./kansa.db``; ``sqlite:////abs/path.db`` → ``/abs/path.db``;
    ``sqlite://:memory:`` → ``:memory:``."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest[1:] if rest.startswith("/") else rest


class SQLiteStore:
    """A kansa store in one SQLite file. Safe to share between threads: each thread gets its
    own connection."""

    dialect = "sqlite"

    def __init__(self, url: str, *, cache_mib: int = 64) -> None:
        self.url = url
        self.path = path_of(url)
        if self.path != ":memory:":
            with translating(lambda exc: isinstance(exc, OSError)):
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
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
            conn.execute("PRAGMA foreign_keys=ON")
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

    # -- schema ------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        applied: list[str] = []
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.statements:
                    conn.execute(render(statement, self.dialect))
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (migration.version, migration.name, to_micros(utcnow())),
                )
                applied.append(f"{migration.version}: {migration.name}")
        return applied

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
        heads: dict[str, tuple[int, str]] = {}
        for event in events:
            if event.tenant_id not in heads:
                heads[event.tenant_id] = self._head(conn, event)
        known = self._known_client_ids(conn, events)
        receipts: list[Receipt] = []
        rows: list[tuple[Any, ...]] = []
        for event in events:
            key = (event.tenant_id, event.client_id)
            if event.client_id is not None and key in known:
                receipts.append(known[key])
                continue
            seq, prev = heads[event.tenant_id]
            seq += 1
            body = link(event.core, prev, seq)
            hashed = digest(body)
            heads[event.tenant_id] = (seq, hashed)
            receipt = Receipt(event.id, event.client_id, event.tenant_id, seq, hashed)
            if event.client_id is not None:
                known[key] = Receipt(
                    event.id, event.client_id, event.tenant_id, seq, hashed, duplicate=True
                )
            receipts.append(receipt)
            rows.append(_row(event, seq, body, hashed, prev))
        conn.executemany(_INSERT_EVENT, rows)
        conn.executemany(
            "UPDATE tenants SET last_seq = ?, last_hash = ? WHERE id = ?",
            [(seq, hashed, tenant) for tenant, (seq, hashed) in heads.items()],
        )
        return receipts

    def _head(self, conn: sqlite3.Connection, event: PreparedEvent) -> tuple[int, str]:
        row = conn.execute(
            "SELECT last_seq, last_hash FROM tenants WHERE id = ?", (event.tenant_id,)
        ).fetchone()
        if row is not None:
            return int(row[0]), str(row[1])
        conn.execute(
            "INSERT INTO tenants (id, name, layout, tz, lang, created_at, last_seq, last_hash)"
            " VALUES (?, ?, ?, 'Asia/Tokyo', 'ja', ?, 0, ?)",
            (event.tenant_id, event.tenant_name, event.layout, to_micros(utcnow()), GENESIS),
        )
        return 0, GENESIS

    @staticmethod
    def _known_client_ids(
        conn: sqlite3.Connection, events: Sequence[PreparedEvent]
    ) -> dict[tuple[str, str | None], Receipt]:
        wanted: dict[str, list[str]] = {}
        for event in events:
            if event.client_id is not None:
                wanted.setdefault(event.tenant_id, []).append(event.client_id)
        known: dict[tuple[str, str | None], Receipt] = {}
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
        cursor = self.db.execute(
            f"SELECT seq, body, hash, prev_hash, {_LINK_COLUMNS} FROM events"
            " WHERE tenant_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
            (tenant_id, after_seq, upto if upto is not None else 2**63 - 1),
        )
        names = [path for _, path in EVENT_COLUMNS]
        for row in cursor:
            columns = dict(zip(names, row[4:], strict=True))
            columns["occurred_at"] = iso_utc(from_micros(columns["occurred_at"]))
            columns["received_at"] = iso_utc(from_micros(columns["received_at"]))
            body = row[1].encode() if isinstance(row[1], str) else bytes(row[1])
            yield StoredLink(row[0], body, row[2], row[3], columns)

    def count_events(self, tenant_id: str | None = None) -> int:
        if tenant_id is None:
            row = self.db.execute("SELECT count(*) FROM events").fetchone()
        else:
            row = self.db.execute(
                "SELECT count(*) FROM events WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
        return int(row[0])

    def get_event(self, tenant_id: str, event_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT body, hash FROM events WHERE tenant_id = ? AND id = ?", (tenant_id, event_id)
        ).fetchone()
        return search_sql.event_of(row[0], row[1]) if row else None

    def search(self, query: Query) -> search_sql.Page:
        text, params = search_sql.build(query, self.dialect)
        return search_sql.page(self.db.execute(text, params).fetchall(), query)

    def stream(self, query: Query, batch: int = 2000) -> Iterator[dict[str, Any]]:
        text, params = search_sql.build(query, self.dialect, paged=False)
        # A connection of its own: a long export must not hold the thread's connection.
        conn = sqlite3.connect(
            self.path, check_same_thread=False, timeout=30.0, factory=_Connection
        )
        try:
            cursor = conn.execute(text, params)
            while rows := cursor.fetchmany(batch):
                for row in rows:
                    yield search_sql.event_of(row[0], row[1])
        finally:
            conn.close()

    def seq_range(self, tenant_id: str, since: datetime, until: datetime) -> tuple[int, int] | None:
        row = self.db.execute(
            search_sql.SEQ_RANGE.format(mark="?"),
            (tenant_id, to_micros(since), to_micros(until)),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row and row[0] is not None else None

    def job_states(self, tenant_id: str, correlation_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT body, hash FROM events WHERE tenant_id = ? AND correlation_id = ? ORDER BY seq",
            (tenant_id, correlation_id),
        ).fetchall()
        return [search_sql.event_of(body, hashed) for body, hashed in rows]

    # -- tenants -----------------------------------------------------------------------

    def create_tenant(
        self, tenant_id: str, *, name: str | None, layout: str | None, tz: str, lang: str
    ) -> Tenant:
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO tenants (id, name, layout, tz, lang, created_at, last_seq,"
                    " last_hash) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                    (tenant_id, name, layout, tz, lang, to_micros(utcnow()), GENESIS),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"tenant {tenant_id!r} already exists") from None
        tenant = self.get_tenant(tenant_id)
        assert tenant is not None
        return tenant

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        row = self.db.execute(
            f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = ?", (tenant_id,)
        ).fetchone()
        return _tenant(row) if row else None

    def update_tenant(self, tenant_id: str, changes: TenantChanges) -> Tenant:
        given = changes.given()
        if changes.retention is not None:
            given["retention"] = shared.retention_text(changes.retention)
        if given:
            assignments = ", ".join(f"{name} = ?" for name in given)
            with self._write() as conn:
                conn.execute(
                    f"UPDATE tenants SET {assignments} WHERE id = ?",
                    (*(_plain(v) for v in given.values()), tenant_id),
                )
        tenant = self.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        return tenant

    def list_tenants(self) -> list[Tenant]:
        rows = self.db.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY id").fetchall()
        return [_tenant(row) for row in rows]

    # -- checkpoints, retention, legal hold ----------------------------------------------

    def add_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        *writes, (read, params) = shared.add_checkpoint_statements(checkpoint, "?")
        with self._write() as conn:
            for text, values in writes:
                conn.execute(text, values)
            stored = conn.execute(read, params).fetchone()
        return shared.checkpoint_of(stored)

    def checkpoints(
        self,
        tenant_id: str,
        *,
        before: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Checkpoint]:
        text, params = shared.checkpoints_query(tenant_id, "?", before, limit, newest_first)
        return [shared.checkpoint_of(row) for row in self.db.execute(text, params)]

    def first_unexpired(
        self, tenant_id: str, after_seq: int, cutoffs: Mapping[str, datetime]
    ) -> int | None:
        text, params = shared.first_unexpired_query(tenant_id, after_seq, cutoffs, "?")
        row = self.db.execute(text, params).fetchone()
        return int(row[0]) if row else None

    def purge(self, cuts: Sequence[Cut], record: Callable[[Purged], PreparedEvent]) -> list[Purged]:
        done: list[Purged] = []
        for cut in cuts:  # one transaction per tenant: appends to others wait less
            try:
                with self._write() as conn:
                    purged = self._purge(conn, cut, record)
            except sqlite3.Error as exc:
                raise StoreError(f"could not purge tenant {cut.tenant!r}: {exc}") from exc
            if purged is not None:
                done.append(purged)
        return done

    def _purge(
        self, conn: sqlite3.Connection, cut: Cut, record: Callable[[Purged], PreparedEvent]
    ) -> Purged | None:
        tenant = conn.execute(
            "SELECT chain_start_seq, legal_hold FROM tenants WHERE id = ?", (cut.tenant,)
        ).fetchone()
        last = conn.execute(
            "SELECT hash FROM events WHERE tenant_id = ? AND seq = ?", (cut.tenant, cut.last_seq)
        ).fetchone()
        if tenant is None or tenant[0] != cut.first_seq or tenant[1] is not None:
            return None
        if last is None or last[0] != cut.last_hash:
            return None
        # The permit lives only inside this transaction: the DELETE trigger lets through
        # exactly the rows it covers.
        conn.execute(
            "INSERT INTO purge_permits (tenant_id, through_seq) VALUES (?, ?)",
            (cut.tenant, cut.last_seq),
        )
        conn.execute(
            "DELETE FROM events WHERE tenant_id = ? AND seq >= ? AND seq <= ?",
            (cut.tenant, cut.first_seq, cut.last_seq),
        )
        conn.execute("DELETE FROM purge_permits WHERE tenant_id = ?", (cut.tenant,))
        conn.execute(
            "UPDATE tenants SET chain_start_seq = ?, chain_start_hash = ? WHERE id = ?",
            (cut.last_seq + 1, cut.last_hash, cut.tenant),
        )
        purged = Purged(cut.tenant, cut.first_seq, cut.last_seq, cut.last_hash)
        self._append(conn, [record(purged)])
        return purged

    def set_legal_hold(self, tenant_id: str, reason: str | None, record: PreparedEvent) -> Tenant:
        try:
            with self._write() as conn:
                changed = conn.execute(
                    "UPDATE tenants SET legal_hold = ?,"
                    " legal_hold_since = CASE WHEN ? IS NULL THEN NULL"
                    " ELSE coalesce(legal_hold_since, ?) END WHERE id = ?",
                    (reason, reason, to_micros(utcnow()), tenant_id),
                ).rowcount
                if not changed:
                    raise NotFound(f"no tenant {tenant_id!r}")
                self._append(conn, [record])
        except sqlite3.Error as exc:
            raise StoreError(f"could not change the legal hold of {tenant_id!r}: {exc}") from exc
        tenant = self.get_tenant(tenant_id)
        assert tenant is not None
        return tenant

    # -- applications and keys -----------------------------------------------------------

    def create_api_key(
        self,
        key_id: str,
        *,
        app: str,
        tenant: str | None,
        scopes: frozenset[str],
        secret_hash: str,
    ) -> ApiKey:
        now = to_micros(utcnow())
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO applications (name, created_at) VALUES (?, ?)"
                    " ON CONFLICT (name) DO NOTHING",
                    (app, now),
                )
                conn.execute(
                    "INSERT INTO api_keys (id, app, tenant_id, scopes, secret_hash, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (key_id, app, tenant, ",".join(sorted(scopes)), secret_hash, now),
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise Conflict(f"API key {key_id!r} already exists") from None
            raise StoreError(f"could not create API key: {exc}") from None
        key = self.get_api_key(key_id)
        assert key is not None
        return key

    def get_api_key(self, key_id: str) -> ApiKey | None:
        row = self.db.execute(
            "SELECT id, app, tenant_id, scopes, secret_hash, created_at, revoked_at"
            " FROM api_keys WHERE id = ?",
            (key_id,),
        ).fetchone()
        if row is None:
            return None
        return ApiKey(
            id=row[0],
            app=row[1],
            tenant=row[2],
            scopes=frozenset(s for s in row[3].split(",") if s),
            secret_hash=row[4],
            created_at=from_micros(row[5]),
            revoked=row[6] is not None,
        )

    # -- accounts and secrets ------------------------------------------------------------

    def create_account(
        self, tenant_id: str, login: str, *, name: str, role: str, password_hash: str
    ) -> Account:
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO accounts (tenant_id, login, name, role, password_hash,"
                    " failures, locked_until, created_at) VALUES (?, ?, ?, ?, ?, 0, NULL, ?)",
                    (tenant_id, login, name, role, password_hash, to_micros(utcnow())),
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc) or "PRIMARY" in str(exc):
                raise Conflict(f"account {login!r} already exists in {tenant_id!r}") from None
            raise NotFound(f"no tenant {tenant_id!r}") from None
        account = self.get_account(tenant_id, login)
        assert account is not None
        return account

    def get_account(self, tenant_id: str, login: str) -> Account | None:
        row = self.db.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE tenant_id = ? AND login = ?",
            (tenant_id, login),
        ).fetchone()
        return _account(row) if row else None

    def record_signin(
        self, tenant_id: str, login: str, *, failures: int, locked_until: datetime | None
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE accounts SET failures = ?, locked_until = ?"
                " WHERE tenant_id = ? AND login = ?",
                (failures, to_micros(locked_until) if locked_until else None, tenant_id, login),
            )

    def instance_secret(self, name: str) -> bytes:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO instance_secrets (name, value, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, os.urandom(32), to_micros(utcnow())),
            )
            row = conn.execute(
                "SELECT value FROM instance_secrets WHERE name = ?", (name,)
            ).fetchone()
        return bytes(row[0])


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


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _account(row: Sequence[Any]) -> Account:
    return Account(
        tenant=row[0],
        login=row[1],
        name=row[2],
        role=row[3],
        password_hash=row[4],
        failures=row[5],
        locked_until=from_micros(row[6]) if row[6] is not None else None,
    )


def _row(event: PreparedEvent, seq: int, body: bytes, hashed: str, prev: str) -> tuple[Any, ...]:
    return (
        event.tenant_id,
        seq,
        event.id,
        event.client_id,
        to_micros(event.occurred_at),
        to_micros(event.received_at),
        event.app,
        event.product,
        event.action,
        event.category,
        event.history,
        event.result,
        event.level,
        event.actor_id,
        event.actor_login,
        event.actor_name,
        event.ip,
        event.target_id,
        event.target_name,
        event.correlation_id,
        event.trace_id,
        event.message_ja,
        event.message_en,
        body,
        hashed,
        prev,
        event.service,
        event.search_text,
    )


def _tenant(row: Sequence[Any]) -> Tenant:
    return Tenant(
        id=row[0],
        name=row[1],
        layout=row[2],
        tz=row[3],
        lang=row[4],
        created_at=from_micros(row[5]),
        last_seq=row[6],
        last_hash=row[7],
        record_searches=bool(row[8]),
        **shared.tenant_extras(row),
    )
