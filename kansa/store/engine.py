"""What every SQL engine does the same way, written once.

An engine gives four things — its parameter mark, how it reads one row and all rows, and how
it runs statements in one transaction, naming the rule a failed one broke — and inherits here
every method that is nothing more than statements of :mod:`kansa.store.rows` and
:mod:`kansa.store.checkpoints` and the records their rows read back as. What engines do
differently (locking, transactions, connections, the bulk insert of events, purges) stays in
each engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from kansa.errors import Conflict, NotFound, StoreError
from kansa.events.prepare import PreparedEvent
from kansa.events.query import Query
from kansa.events.stored import StoredEvent
from kansa.integrity.rowwalk import ChainRow
from kansa.integrity.signing import Checkpoint
from kansa.records import (
    Account,
    AccountChanges,
    ApiKey,
    SigningKey,
    Tenant,
    TenantChanges,
)
from kansa.store import checkpoints as shared
from kansa.store import prune, rows, streams
from kansa.store import search as search_sql
from kansa.store.base import Prune
from kansa.store.rows import Bound
from kansa.store.schema import MIGRATIONS, MIGRATIONS_TABLE, render
from kansa.streaming.cursors import Cursor
from kansa.streaming.destinations import Destination
from kansa.timeutil import from_micros, to_micros, utcnow

Broken = Literal["unique", "reference"] | None
"""The integrity rule a failed write broke: a key already taken, or a row it names missing."""

Execute = Callable[..., Iterable[Sequence[Any]]]


def stream_sql(query: Query, dialect: str) -> tuple[str, list[Any], bool]:
    """The SELECT of :meth:`stream` and its parameters: every row of ``query``, in its order
    (:func:`kansa.store.search.build`). Without placeholders no pruned row can come, so only
    each row's body and hash — its whole event — are read, not the columns of a placeholder
    (a third of an export's reading); the third value says so."""
    text, params = search_sql.build(query, dialect, paged=False)
    if query.placeholders:
        return text, params, False
    way = "DESC" if query.descending else "ASC"
    narrow = f"SELECT s.body, s.hash FROM ({text}) s ORDER BY s.sort_value {way}, s.seq {way}"
    return narrow, params, True


def streamed(row: Sequence[Any], narrow: bool) -> StoredEvent:
    """A row of :func:`stream_sql` as its event."""
    return search_sql.event_of(row[0], row[1]) if narrow else search_sql.row_event(row)


class SQLEngine(ABC):
    """The engine-independent half of a store."""

    dialect: str
    mark: str
    """How the engine's driver marks a parameter: ``?`` or ``%s``."""
    tenant_order = "id"
    """How tenants are listed: by id, in byte order."""
    driver_error: type[Exception]

    @abstractmethod
    def _read_one(
        self, text: str, params: Sequence[Any] = (), *, often: bool = False
    ) -> Sequence[Any] | None:
        """The first row ``text`` reads, or None. ``often``: a statement of one shape, read
        often, that costs more to plan than to run, which the engine may keep prepared."""

    @abstractmethod
    def _read_all(self, text: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Every row ``text`` reads."""

    @abstractmethod
    def _transaction(self, statements: Sequence[Bound]) -> None:
        """Run ``statements`` in one transaction; a driver error leaves nothing written."""

    @abstractmethod
    def _broken(self, error: Exception) -> Broken:
        """Which integrity rule the driver ``error`` reports broken, if any."""

    @abstractmethod
    def schema_version(self) -> int:
        """The number of the last migration applied (0: none)."""

    @abstractmethod
    def _recorded(self, statements: Sequence[Bound], record: PreparedEvent | None) -> int:
        """Run ``statements`` in one transaction and, if the first changed a row, append
        ``record`` (kansa's own event) in it too; return how many rows the first changed."""

    def _commit(
        self,
        statements: Sequence[Bound],
        *,
        what: str,
        exists: str | None = None,
        missing: str | None = None,
    ) -> None:
        """Run ``statements`` in one transaction: a taken key raises :class:`Conflict` with
        ``exists``, a missing row they name :class:`NotFound` with ``missing``, any other
        driver error :class:`StoreError`."""
        try:
            self._transaction(statements)
        except self.driver_error as exc:
            broken = self._broken(exc)
            if broken == "unique" and exists is not None:
                raise Conflict(exists) from None
            if broken == "reference" and missing is not None:
                raise NotFound(missing) from None
            raise StoreError(f"could not {what}: {exc}") from exc

    def _apply_migrations(self, execute: Execute, fill: Callable[[str], object]) -> list[str]:
        """Apply, with ``execute`` inside the migrating transaction, the migrations not yet
        applied (``fill`` does a migration's fill, in the same transaction); return their
        names."""
        execute(render(MIGRATIONS_TABLE, self.dialect))
        done = {row[0] for row in execute("SELECT version FROM schema_migrations")}
        applied: list[str] = []
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            for statement in migration.statements_for(self.dialect):
                execute(statement)
            if migration.fill is not None:
                fill(migration.fill)
            for statement in migration.then_for(self.dialect):
                execute(statement)
            execute(
                f"INSERT INTO schema_migrations VALUES ({self.mark}, {self.mark}, {self.mark})",
                (migration.version, migration.name, to_micros(utcnow())),
            )
            applied.append(f"{migration.version}: {migration.name}")
        return applied

    def applied_migrations(self) -> list[tuple[int, str, datetime]]:
        if self.schema_version() == 0:
            return []
        found = self._read_all("SELECT version, name, applied_at FROM schema_migrations")
        return sorted((int(row[0]), str(row[1]), from_micros(row[2])) for row in found)

    # -- events ------------------------------------------------------------------------

    def count_events(self, tenant_id: str | None = None) -> int:
        if tenant_id is None:
            row = self._read_one("SELECT count(*) FROM events")
        else:
            row = self._read_one(
                f"SELECT count(*) FROM events WHERE tenant_id = {self.mark}", (tenant_id,)
            )
        assert row is not None
        return int(row[0])

    def last_stored_seq(self, tenant_id: str) -> int:
        row = self._read_one(
            f"SELECT max(seq) FROM events WHERE tenant_id = {self.mark}", (tenant_id,)
        )
        return int(row[0]) if row and row[0] is not None else 0

    def orphan_tenants(self) -> list[str]:
        found = self._read_all(rows.orphans_query(self._keyed_tables, self.tenant_order))
        return [str(row[0]) for row in found]

    _keyed_tables: tuple[str, ...] = ("events", "checkpoints")
    """The tables whose rows name a tenant that must exist."""

    def key_problem(self, tenant_id: str, first_seq: int, last_seq: int) -> tuple[int, str] | None:
        return None  # the engine keeps client ids unique on events itself

    def key_rows(self, tenant_id: str, first_seq: int, last_seq: int) -> list[ChainRow] | None:
        return None

    def get_event(self, tenant_id: str, event_id: str) -> StoredEvent | None:
        row = self._read_one(
            f"SELECT body, hash FROM events WHERE tenant_id = {self.mark} AND id = {self.mark}"
            f" AND seq <= {search_sql.head(self.mark)} AND pruned IS NULL",
            (tenant_id, event_id, tenant_id),
            often=True,  # no time to prune by: planned over every month, ~1 ms on PostgreSQL
        )
        return search_sql.event_of(row[0], row[1]) if row else None

    def seq_range(self, tenant_id: str, since: datetime, until: datetime) -> tuple[int, int] | None:
        row = self._read_one(
            search_sql.SEQ_RANGE.format(mark=self.mark, head=search_sql.head(self.mark)),
            (tenant_id, to_micros(since), to_micros(until), tenant_id),
        )
        return (int(row[0]), int(row[1])) if row and row[0] is not None else None

    def job_states(self, tenant_id: str, correlation_id: str) -> list[StoredEvent]:
        found = self._read_all(
            f"SELECT body, hash FROM events WHERE tenant_id = {self.mark}"
            f" AND correlation_id = {self.mark} AND seq <= {search_sql.head(self.mark)}"
            " AND pruned IS NULL ORDER BY seq",
            (tenant_id, correlation_id, tenant_id),
        )
        return [search_sql.event_of(body, hashed) for body, hashed in found]

    # -- tenants -----------------------------------------------------------------------

    def create_tenant(
        self, tenant_id: str, *, name: str | None, layout: str | None, tz: str, lang: str
    ) -> Tenant:
        self._commit(
            [self._new_tenant(rows.new_tenant(tenant_id, name, layout, tz, lang))],
            what=f"create tenant {tenant_id!r}",
            exists=f"tenant {tenant_id!r} already exists",
        )
        return self._tenant(tenant_id)

    def _new_tenant(self, row: rows.Row) -> Bound:
        marks = ", ".join([self.mark] * len(row))
        return f"INSERT INTO tenants ({rows.NEW_TENANT_COLUMNS}) VALUES ({marks})", row

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        row = self._read_one(
            f"SELECT {rows.TENANT_COLUMNS} FROM tenants WHERE id = {self.mark}",
            (tenant_id,),
            often=True,  # every read of a log reads its tenant first
        )
        return rows.tenant_of(row) if row else None

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        return tenant

    def update_tenant(self, tenant_id: str, changes: TenantChanges) -> Tenant:
        given = rows.tenant_changes(changes)  # column names from TenantChanges alone
        if given:
            assignments = ", ".join(f"{name} = {self.mark}" for name in given)
            self._commit(
                [
                    (
                        f"UPDATE tenants SET {assignments} WHERE id = {self.mark}",
                        (*given.values(), tenant_id),
                    )
                ],
                what=f"change tenant {tenant_id!r}",
            )
        return self._tenant(tenant_id)

    def list_tenants(self) -> list[Tenant]:
        found = self._read_all(
            f"SELECT {rows.TENANT_COLUMNS} FROM tenants ORDER BY {self.tenant_order}"
        )
        return [rows.tenant_of(row) for row in found]

    # -- checkpoints and retention --------------------------------------------------------

    def add_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        *writes, (read, params) = shared.add_checkpoint_statements(checkpoint, self.mark)
        self._commit(writes, what=f"keep the checkpoint of {checkpoint.tenant!r}")
        stored = self._read_one(read, params)  # a kept checkpoint never changes
        assert stored is not None
        return shared.checkpoint_of(stored)

    def checkpoints(
        self,
        tenant_id: str,
        *,
        before: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Checkpoint]:
        text, params = shared.checkpoints_query(tenant_id, self.mark, before, limit, newest_first)
        return [shared.checkpoint_of(row) for row in self._read_all(text, params)]

    def prunable(self, order: Prune) -> tuple[int, int, int]:
        if order.seqs:
            text, params = prune.candidates(order, self.mark, "seq")
            found = [row[0] for row in self._read_all(text, params) if row[0] in order.seqs]
            return len(found), min(found, default=0), max(found, default=0)
        text, params = prune.candidates(order, self.mark, "count(*), min(seq), max(seq)")
        row = self._read_one(text, params)
        return (int(row[0]), int(row[1] or 0), int(row[2] or 0)) if row else (0, 0, 0)

    # -- applications and keys -----------------------------------------------------------

    def create_api_key(
        self,
        key_id: str,
        *,
        app: str,
        tenant: str | None,
        scopes: frozenset[str],
        secret_hash: str,
        expires_at: datetime | None = None,
    ) -> ApiKey:
        self._commit(
            rows.api_key_statements(
                key_id,
                app=app,
                tenant=tenant,
                scopes=scopes,
                secret_hash=secret_hash,
                mark=self.mark,
                expires_at=expires_at,
            ),
            what="create API key",
            exists=f"API key {key_id!r} already exists",
        )
        key = self.get_api_key(key_id)
        assert key is not None
        return key

    def get_api_key(self, key_id: str) -> ApiKey | None:
        row = self._read_one(
            f"SELECT {rows.API_KEY_COLUMNS} FROM api_keys WHERE id = {self.mark}", (key_id,)
        )
        return rows.api_key_of(row) if row else None

    def list_api_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        where, params = (f" WHERE tenant_id = {self.mark}", (tenant_id,)) if tenant_id else ("", ())
        found = self._read_all(
            f"SELECT {rows.API_KEY_COLUMNS} FROM api_keys{where} ORDER BY created_at, id", params
        )
        return [rows.api_key_of(row) for row in found]

    def revoke_api_key(self, key_id: str, *, at: datetime, record: PreparedEvent | None) -> ApiKey:
        changed = self._recorded([rows.revoke_key_statement(key_id, at, self.mark)], record)
        return self._key_changed(key_id, changed, "revoked already")

    def rotate_api_key(
        self,
        key_id: str,
        *,
        secret_hash: str,
        previous_until: datetime,
        at: datetime,
        record: PreparedEvent | None,
    ) -> ApiKey:
        statement = rows.rotate_key_statement(key_id, secret_hash, previous_until, at, self.mark)
        return self._key_changed(key_id, self._recorded([statement], record), "revoked")

    def _key_changed(self, key_id: str, changed: int, otherwise: str) -> ApiKey:
        key = self.get_api_key(key_id)
        if key is None:
            raise NotFound(f"no API key {key_id!r}")
        if not changed:
            raise Conflict(f"API key {key_id!r} is {otherwise}")
        return key

    def touch_api_keys(self, used: Mapping[str, datetime]) -> None:
        if used:
            statements = rows.touch_key_statements(used, self.mark)
            self._commit(statements, what="keep when API keys were last used")

    def api_key_changes(self, since: datetime | None) -> list[tuple[str, datetime]]:
        found = self._read_all(*rows.key_changes_query(since, self.mark))
        return [(str(row[0]), from_micros(row[1])) for row in found]

    # -- accounts and secrets ------------------------------------------------------------

    def create_account(
        self, tenant_id: str, login: str, *, name: str, role: str, password_hash: str
    ) -> Account:
        self._commit(
            [rows.account_statement(tenant_id, login, name, role, password_hash, self.mark)],
            what=f"create account {login!r}",
            exists=f"account {login!r} already exists in {tenant_id!r}",
            missing=f"no tenant {tenant_id!r}",
        )
        account = self.get_account(tenant_id, login)
        assert account is not None
        return account

    def get_account(self, tenant_id: str, login: str) -> Account | None:
        row = self._read_one(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts"
            f" WHERE tenant_id = {self.mark} AND login = {self.mark}",
            (tenant_id, login),
        )
        return rows.account_of(row) if row else None

    def list_accounts(self, tenant_id: str) -> list[Account]:
        found = self._read_all(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE tenant_id = {self.mark}"
            " ORDER BY login",
            (tenant_id,),
        )
        return [rows.account_of(row) for row in found]

    def change_account(
        self,
        tenant_id: str,
        login: str,
        changes: AccountChanges,
        *,
        at: datetime,
        record: PreparedEvent | None,
    ) -> Account:
        statement = rows.account_change_statement(tenant_id, login, changes, at, self.mark)
        self._recorded([statement], record)
        account = self.get_account(tenant_id, login)
        if account is None:
            raise NotFound(f"no account {login!r} in tenant {tenant_id!r}")
        return account

    def retire_tenant(
        self, tenant_id: str, reason: str, *, at: datetime, record: PreparedEvent | None
    ) -> Tenant:
        statement = rows.retire_tenant_statement(tenant_id, reason, at, self.mark)
        changed = self._recorded([statement], record)
        tenant = self._tenant(tenant_id)
        if not changed:
            raise Conflict(f"tenant {tenant_id!r} is retired already")
        return tenant

    def retired_tenants(self) -> frozenset[str]:
        found = self._read_all("SELECT id FROM tenants WHERE retired_at IS NOT NULL")
        return frozenset(str(row[0]) for row in found)

    def record_signin(
        self, tenant_id: str, login: str, *, failures: int, locked_until: datetime | None
    ) -> None:
        statement = rows.signin_statement(tenant_id, login, failures, locked_until, self.mark)
        self._commit([statement], what=f"record the sign-in of {login!r}")

    def end_sessions(
        self, tenant_id: str, subject: str, *, at: datetime, keep_until: datetime | None
    ) -> None:
        self._commit(
            rows.session_end_statements(tenant_id, subject, at, keep_until, self.mark),
            what=f"end the sessions of {subject!r}",
            missing=f"no tenant {tenant_id!r}",
        )

    def sessions_ended(self, tenant_id: str, subjects: Sequence[str]) -> datetime | None:
        row = self._read_one(*rows.sessions_ended_query(tenant_id, subjects, self.mark))
        return from_micros(row[0]) if row and row[0] is not None else None

    # -- signing keys ------------------------------------------------------------------

    def signing_keys(self) -> list[SigningKey]:
        found = self._read_all(
            f"SELECT {rows.SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, key_id"
        )
        return [rows.signing_key_of(row) for row in found]

    def register_signing_key(
        self, key_id: str, public_key: str, *, at: datetime, replace: bool = False
    ) -> list[SigningKey]:
        statements = rows.add_signing_key_statements(
            key_id, public_key, at, self.mark, replace=replace
        )
        self._commit(
            statements,
            what="register the signing key",
            exists=f"signing key {key_id} is registered already",
        )
        return self.signing_keys()

    def check_writable(self) -> None:
        """A write transaction that changes nothing (StoreError when none can be had)."""
        probe = ("UPDATE schema_migrations SET version = version WHERE 1 = 0", ())
        self._commit([probe], what="write to the database")

    @contextmanager
    def exclusive(self, job: str) -> Iterator[bool]:
        """Every process runs ``job``: a SQLite database lives on one machine, where
        ``kansa serve --workers`` already runs the jobs in one process."""
        yield True

    # -- streaming out -------------------------------------------------------------------

    def _returning(self, bound: Bound, what: str) -> list[Sequence[Any]]:
        """Run one writing statement with RETURNING on its own (autocommitted)."""
        try:
            return self._read_all(*bound)
        except self.driver_error as exc:
            raise StoreError(f"could not {what}: {exc}") from exc

    def create_destination(self, destination: Destination) -> Destination:
        self._commit(
            streams.create_statements(destination, self.mark),
            what=f"create destination {destination.name!r}",
            exists=f"destination {destination.id!r} already exists",
            missing=f"no tenant {destination.tenant!r}",
        )
        return self._destination(destination.id)

    def get_destination(self, destination_id: str) -> Destination | None:
        row = self._read_one(
            f"SELECT {streams.DESTINATION_COLUMNS} FROM destinations WHERE id = {self.mark}",
            (destination_id,),
        )
        return streams.destination_of(row) if row else None

    def _destination(self, destination_id: str) -> Destination:
        found = self.get_destination(destination_id)
        if found is None:
            raise NotFound(f"no destination {destination_id!r}")
        return found

    def list_destinations(self, tenant_id: str | None = None) -> list[Destination]:
        text, params = "", tuple[str, ...]()
        if tenant_id is not None:
            text, params = f" WHERE tenant_id = {self.mark}", (tenant_id,)
        found = self._read_all(
            f"SELECT {streams.DESTINATION_COLUMNS} FROM destinations{text} ORDER BY created_at, id",
            params,
        )
        return [streams.destination_of(row) for row in found]

    def set_destination_paused(self, destination_id: str, paused: bool) -> Destination:
        changed = self._returning(
            (
                f"UPDATE destinations SET paused = {self.mark} WHERE id = {self.mark} RETURNING id",
                (int(paused), destination_id),
            ),
            what=f"pause or resume destination {destination_id!r}",
        )
        if not changed:
            raise NotFound(f"no destination {destination_id!r}")
        return self._destination(destination_id)

    def delete_destination(self, destination_id: str) -> None:
        self._destination(destination_id)
        self._commit(
            [
                (
                    f"DELETE FROM stream_cursors WHERE destination_id = {self.mark}",
                    (destination_id,),
                ),
                (f"DELETE FROM destinations WHERE id = {self.mark}", (destination_id,)),
            ],
            what=f"remove destination {destination_id!r}",
        )

    def delivery_floor(self, tenant_id: str) -> int | None:
        row = self._read_one(*streams.delivery_floor_query(tenant_id, self.mark))
        if row is None:
            return None
        lowest, uncovered = row
        if uncovered:
            return 0
        return None if lowest is None else int(lowest)

    def cursors(self, destination_id: str, tenant_id: str | None = None) -> list[Cursor]:
        found = self._read_all(*streams.cursors_query(self.mark, destination_id, tenant_id))
        return [streams.cursor_of(row) for row in found]

    def claim_cursors(self, owner: str, now: datetime, until: datetime, limit: int) -> list[Cursor]:
        if self._read_one(*streams.any_missing_cursor_query()) is not None:
            self._commit([streams.missing_cursors_statement()], what="add cursors of new tenants")
        if self._read_one(*streams.any_due_query(now, self.mark)) is None:
            return []
        bound = streams.claim_statement(self.dialect, owner, now, until, limit, self.mark)
        claimed = self._returning(bound, what="claim delivery cursors")
        return [c for tenant, dest in claimed for c in self.cursors(dest, tenant)]

    def set_pending(self, cursor: Cursor, owner: str, last: int) -> bool:
        bound = streams.pending_statement(cursor, owner, last, self.mark)
        return bool(self._returning(bound, what="fix the stretch on its way"))

    def mark_delivered(self, cursor: Cursor, owner: str, last: int, now: datetime) -> bool:
        bound = streams.delivered_statement(cursor, owner, last, now, self.mark)
        return bool(self._returning(bound, what="move a delivery cursor"))

    def mark_failed(
        self, cursor: Cursor, owner: str, *, degraded: bool, retry_at: datetime, error: str
    ) -> bool:
        bound = streams.failed_statement(cursor, owner, degraded, retry_at, error, self.mark)
        return bool(self._returning(bound, what="record a failed delivery"))

    def rewind_cursor(self, destination_id: str, tenant_id: str, seq: int) -> None:
        bound = streams.rewind_statement(destination_id, tenant_id, seq, self.mark)
        if not self._returning(bound, what="move a delivery cursor"):
            raise NotFound(f"destination {destination_id!r} has no cursor for {tenant_id!r}")
