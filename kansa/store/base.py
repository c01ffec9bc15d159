"""The storage interface. Storage is the only layer that writes SQL; everything above it
speaks in these records."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from kansa.events.prepare import PreparedEvent
from kansa.events.query import Query
from kansa.events.stored import StoredEvent
from kansa.integrity.chain import Pruning, StoredLink
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
from kansa.store.search import Page
from kansa.streaming.cursors import Cursor
from kansa.streaming.destinations import Destination


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a publisher gets back for one event."""

    id: str
    client_id: str | None
    tenant: str
    seq: int
    hash: str
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_id": self.client_id,
            "tenant": self.tenant,
            "seq": self.seq,
            "hash": self.hash,
            "duplicate": self.duplicate,
        }

    def __reduce__(self) -> tuple[type[Receipt], tuple[str, str | None, str, int, str, bool]]:
        """Pickled (back from the writer process) as its fields in order: 0.8 µs to pickle and
        1.7 to load, against 3.4 and 4.0 through the dataclass's own state."""
        return Receipt, (self.id, self.client_id, self.tenant, self.seq, self.hash, self.duplicate)


@dataclass(frozen=True, slots=True)
class Prune:
    """What a prune removes the content of, in one tenant's chain verified up to
    ``upto_seq`` (whose event has hash ``upto_hash``): the events that expired before
    ``cutoffs`` (per history), or the events ``seqs`` — those after ``after_seq`` and up to
    ``through_seq`` (0: ``upto_seq``) only, so that a long prune can go a stretch per
    transaction."""

    tenant: str
    upto_seq: int
    upto_hash: str
    reason: Pruning
    cutoffs: Mapping[str, datetime] = field(default_factory=dict)
    seqs: frozenset[int] = frozenset()
    after_seq: int = 0
    through_seq: int = 0

    def stretch(self, after_seq: int, through_seq: int) -> Prune:
        """The same prune, of the events after ``after_seq`` up to ``through_seq`` only."""
        return replace(self, after_seq=after_seq, through_seq=through_seq)


@dataclass(frozen=True, slots=True)
class Pruned:
    """What a prune removed from one tenant."""

    tenant: str
    reason: Pruning
    count: int
    first_seq: int = 0
    last_seq: int = 0
    """The lowest and highest seq pruned (0 when none was)."""
    partitions: tuple[str, ...] = ()
    """The month partitions pruned by one UPDATE each (PostgreSQL)."""

    def __add__(self, other: Pruned) -> Pruned:
        """Two stretches of one prune as one."""
        firsts = [p.first_seq for p in (self, other) if p.count]
        lasts = [p.last_seq for p in (self, other) if p.count]
        return Pruned(
            self.tenant,
            self.reason,
            self.count + other.count,
            min(firsts, default=0),
            max(lasts, default=0),
            tuple(sorted(set(self.partitions) | set(other.partitions))),
        )


class Store(Protocol):
    """What kansa needs from a database. One implementation per engine."""

    url: str

    def migrate(self) -> list[str]:
        """Bring the schema up to date; return the names of the migrations applied."""
        ...

    def close(self) -> None: ...

    def schema_version(self) -> int:
        """The number of the last migration applied (0: none)."""
        ...

    def applied_migrations(self) -> list[tuple[int, str, datetime]]:
        """The migrations applied (version, name, when), in version order; none when the
        database has no schema yet."""
        ...

    def append(self, events: Sequence[PreparedEvent]) -> list[Receipt]:
        """Store ``events`` in one transaction, chained per tenant, in order. An event whose
        (tenant, client id) is already stored — or earlier in ``events`` — is not stored again
        and gets the original receipt. Returns one receipt per event, after the commit."""
        ...

    def create_tenant(
        self, tenant_id: str, *, name: str | None, layout: str | None, tz: str, lang: str
    ) -> Tenant: ...

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def list_tenants(self) -> list[Tenant]: ...

    def create_api_key(
        self,
        key_id: str,
        *,
        app: str,
        tenant: str | None,
        scopes: frozenset[str],
        secret_hash: str,
        expires_at: datetime | None = None,
    ) -> ApiKey: ...

    def get_api_key(self, key_id: str) -> ApiKey | None: ...

    def list_api_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        """Every key (bound to ``tenant_id`` only, when given), oldest first."""
        ...

    def revoke_api_key(self, key_id: str, *, at: datetime, record: PreparedEvent | None) -> ApiKey:
        """Revoke a key and append ``record`` in the same transaction. NotFound for an
        unknown key, Conflict for one revoked already."""
        ...

    def rotate_api_key(
        self,
        key_id: str,
        *,
        secret_hash: str,
        previous_until: datetime,
        at: datetime,
        record: PreparedEvent | None,
    ) -> ApiKey:
        """Give a key a new secret; the current one stays accepted until ``previous_until``.
        ``record`` is appended in the same transaction. NotFound, or Conflict if revoked."""
        ...

    def touch_api_keys(self, used: Mapping[str, datetime]) -> None:
        """Keep when each key was last used."""
        ...

    def api_key_changes(self, since: datetime | None) -> list[tuple[str, datetime]]:
        """The (id, when) of the keys revoked or rotated after ``since`` (None: ever)."""
        ...

    def list_accounts(self, tenant_id: str) -> list[Account]: ...

    def change_account(
        self,
        tenant_id: str,
        login: str,
        changes: AccountChanges,
        *,
        at: datetime,
        record: PreparedEvent | None,
    ) -> Account:
        """Disable, enable, change the role or password of, or unlock an account, and append
        ``record``, in one transaction. NotFound for an unknown account."""
        ...

    def retire_tenant(
        self, tenant_id: str, reason: str, *, at: datetime, record: PreparedEvent | None
    ) -> Tenant:
        """Mark a tenant retired (publishing for it is refused from then on; its events stay)
        and append ``record``, in one transaction. NotFound; Conflict if retired already."""
        ...

    def retired_tenants(self) -> frozenset[str]:
        """The ids of the retired tenants."""
        ...

    def chain(
        self, tenant_id: str, after_seq: int = 0, upto: int | None = None
    ) -> Iterator[StoredLink]:
        """The tenant's stored links after ``after_seq`` (to ``upto``) in sequence order."""
        ...

    def chain_rows(
        self, tenant_id: str, after_seq: int = 0, upto: int | None = None
    ) -> Iterator[ChainRow]:
        """The same links as rows (:func:`kansa.store.rows.chain_rows_query`): what ``kansa
        verify`` reads first, as :func:`~kansa.integrity.rowwalk.walk_rows` takes them."""
        ...

    def count_events(self, tenant_id: str | None = None) -> int: ...

    def last_stored_seq(self, tenant_id: str) -> int:
        """The highest seq of the tenant's stored rows (0 when none), whatever its head says:
        a row above the head was put there behind kansa's back (verify reports it)."""
        ...

    def orphan_tenants(self) -> list[str]:
        """The tenant ids that events, checkpoints or idempotency keys name but no tenant
        row has (a tenant row deleted behind kansa's back), in byte order."""
        ...

    def key_problem(self, tenant_id: str, first_seq: int, last_seq: int) -> tuple[int, str] | None:
        """The first event of seq ``first_seq``–``last_seq`` whose idempotency key row is
        missing or disagrees with it, or a key row of those seqs with no event: its seq and
        what is wrong. None where the engine keeps the keys on the events themselves."""
        ...

    def key_rows(self, tenant_id: str, first_seq: int, last_seq: int) -> list[ChainRow] | None:
        """The idempotency key rows of seq ``first_seq``–``last_seq`` in seq order, each
        ``client_id, id, seq, hash, occurred_at`` (the time written as :meth:`chain_rows`
        writes it), for the walk to hold against the events it read
        (:func:`~kansa.integrity.slices.walk_slice`); :meth:`key_problem` names what
        disagrees. None where the engine keeps the keys on the events themselves."""
        ...

    def get_event(self, tenant_id: str, event_id: str) -> StoredEvent | None:
        """One event as stored (the hashed event plus seq and hash); none above the
        tenant's recorded head (readers are served nothing beyond it)."""
        ...

    def search(self, query: Query) -> Page:
        """One page of the events ``query`` selects, and the cursor of the next."""
        ...

    def stream(self, query: Query, batch: int = 2000) -> Iterator[StoredEvent]:
        """Every event ``query`` selects (no page limit, ``after`` honoured), in its order,
        read ``batch`` rows at a time so memory stays flat however many there are."""
        ...

    def seq_range(self, tenant_id: str, since: datetime, until: datetime) -> tuple[int, int] | None:
        """The first and last seq of the tenant's events that occurred in [since, until)."""
        ...

    def job_states(self, tenant_id: str, correlation_id: str) -> list[StoredEvent]:
        """Every event of one job (correlation id), in sequence order."""
        ...

    def update_tenant(self, tenant_id: str, changes: TenantChanges) -> Tenant:
        """Change name, layout, tz, lang, record_searches or retention (days per history;
        0 keeps forever) of a tenant."""
        ...

    def check_writable(self) -> None:
        """Open a write transaction and commit it, changing nothing: StoreError (or
        StoreUnavailable) when the database takes no writes now (for ``/readyz``)."""
        ...

    def exclusive(self, job: str) -> AbstractContextManager[bool]:
        """Whether this process is the one that runs background ``job`` now: True for as
        long as the block runs when no other process on the database runs it, else False at
        once (never waits). PostgreSQL: a session advisory lock, released with the block or
        with its connection; SQLite (one machine): always True."""
        ...

    def create_account(
        self, tenant_id: str, login: str, *, name: str, role: str, password_hash: str
    ) -> Account: ...

    def get_account(self, tenant_id: str, login: str) -> Account | None: ...

    def record_signin(
        self, tenant_id: str, login: str, *, failures: int, locked_until: datetime | None
    ) -> None:
        """Store the failure count and lock of an account after a sign-in attempt."""
        ...

    def end_sessions(
        self, tenant_id: str, subject: str, *, at: datetime, keep_until: datetime | None
    ) -> None:
        """End the console sessions of ``subject`` (see :mod:`kansa.access.sessions`) begun
        up to ``at``; the end is kept until ``keep_until`` (None: for ever). NotFound for an
        unknown tenant."""
        ...

    def sessions_ended(self, tenant_id: str, subjects: Sequence[str]) -> datetime | None:
        """The latest end of the sessions of any of ``subjects``; None when none ended."""
        ...

    # -- integrity and retention ------------------------------------------------------

    def signing_keys(self) -> list[SigningKey]:
        """The registered signing keys, oldest first; the one not retired is current."""
        ...

    def register_signing_key(
        self, key_id: str, public_key: str, *, at: datetime, replace: bool = False
    ) -> list[SigningKey]:
        """Register the first signing key (nothing happens when one is registered already),
        or with ``replace`` a new current key, retiring the current one in the same
        transaction (Conflict for a key registered before). Returns every registered key."""
        ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        """Keep a signed checkpoint; if the tenant has one at that seq already, keep that
        one and return it."""
        ...

    def checkpoints(
        self,
        tenant_id: str,
        *,
        before: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Checkpoint]:
        """The tenant's checkpoints (those before seq ``before``), in seq order."""
        ...

    def prunable(self, order: Prune) -> tuple[int, int, int]:
        """How many events ``order`` would prune now, and the lowest and highest seq."""
        ...

    def prune(self, order: Prune, record: Callable[[Pruned], PreparedEvent | None]) -> Pruned:
        """Remove the content of the events ``order`` names (those not pruned already, and
        never kansa's own purge and erasure records), keeping each one's commitment, and
        append ``record(pruned)`` (unless None), in one transaction; afterwards the removed
        values are not left in the database files where the engine can see to it.
        :class:`~kansa.errors.Conflict` when the tenant is under legal hold (naming it) or
        its event at ``upto_seq`` no longer has ``upto_hash``."""
        ...

    def set_legal_hold(self, tenant_id: str, reason: str | None, record: PreparedEvent) -> Tenant:
        """Place (``reason``) or release (None) a legal hold, and append ``record``, in one
        transaction."""
        ...

    # -- streaming out ----------------------------------------------------------------------

    def create_destination(self, destination: Destination) -> Destination:
        """Keep ``destination`` and give it a cursor for each tenant it covers (at the
        tenant's head, or before its chain's start, as ``destination.start`` says)."""
        ...

    def get_destination(self, destination_id: str) -> Destination | None: ...

    def list_destinations(self, tenant_id: str | None = None) -> list[Destination]:
        """Every destination, or those of one tenant (not the operator's)."""
        ...

    def set_destination_paused(self, destination_id: str, paused: bool) -> Destination: ...

    def delete_destination(self, destination_id: str) -> None:
        """Remove a destination and its cursors (NotFound when there is none)."""
        ...

    def delivery_floor(self, tenant_id: str) -> int | None:
        """The last seq of the tenant that every streaming destination has received (None
        when none delivers it): retention prunes nothing above it."""
        ...

    def cursors(self, destination_id: str, tenant_id: str | None = None) -> list[Cursor]:
        """A destination's cursors (one tenant's), with the tenant's head and what waits."""
        ...

    def claim_cursors(self, owner: str, now: datetime, until: datetime, limit: int) -> list[Cursor]:
        """Lease, for ``owner`` until ``until``, up to ``limit`` cursors of destinations not
        paused that are behind their tenant's head and due; no two owners get one cursor."""
        ...

    def set_pending(self, cursor: Cursor, owner: str, last: int) -> bool:
        """Fix the last seq of the stretch on its way; False when the lease was lost."""
        ...

    def mark_delivered(self, cursor: Cursor, owner: str, last: int, now: datetime) -> bool:
        """The receiver accepted up to ``last``: move the cursor; False when the lease was
        lost (the cursor stays where another worker has it)."""
        ...

    def mark_failed(
        self, cursor: Cursor, owner: str, *, degraded: bool, retry_at: datetime, error: str
    ) -> bool:
        """Count a failed delivery and when to try again; the cursor does not move."""
        ...

    def rewind_cursor(self, destination_id: str, tenant_id: str, seq: int) -> None:
        """Move a cursor to ``seq``: the events after it are delivered (again)."""
        ...
