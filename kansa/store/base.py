"""The storage interface. Storage is the only layer that writes SQL; everything above it
speaks in these records."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from kansa.events.prepare import PreparedEvent
from kansa.events.query import Query
from kansa.events.stored import StoredEvent
from kansa.integrity.chain import StoredLink
from kansa.integrity.signing import Checkpoint
from kansa.records import Account, ApiKey, Tenant, TenantChanges
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


@dataclass(frozen=True, slots=True)
class Cut:
    """What a purge removes from one tenant's chain: ``first_seq`` (its current start) to
    ``last_seq``, whose event has hash ``last_hash``."""

    tenant: str
    first_seq: int
    last_seq: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed from one tenant, and where its chain now begins."""

    tenant: str
    first_seq: int
    last_seq: int
    start_hash: str
    """The hash of the last event removed: the ``prev_hash`` the chain now starts from."""
    partitions: tuple[str, ...] = ()
    """Whole partitions dropped (PostgreSQL), shared by every tenant purged at once."""

    @property
    def count(self) -> int:
        return self.last_seq - self.first_seq + 1

    @property
    def start_seq(self) -> int:
        return self.last_seq + 1


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
    ) -> ApiKey: ...

    def get_api_key(self, key_id: str) -> ApiKey | None: ...

    def chain(
        self, tenant_id: str, after_seq: int = 0, upto: int | None = None
    ) -> Iterator[StoredLink]:
        """The tenant's stored links after ``after_seq`` (to ``upto``) in sequence order."""
        ...

    def count_events(self, tenant_id: str | None = None) -> int: ...

    def get_event(self, tenant_id: str, event_id: str) -> StoredEvent | None:
        """One event as stored (the hashed event plus seq and hash)."""
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

    def instance_secret(self, name: str) -> bytes:
        """A random 32-byte secret kept in the database, made on first use."""
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

    def first_unexpired(
        self, tenant_id: str, after_seq: int, cutoffs: Mapping[str, datetime]
    ) -> int | None:
        """The first seq after ``after_seq`` of an event that has not expired: one whose
        history has no cutoff, or that occurred at or after its history's cutoff."""
        ...

    def purge(self, cuts: Sequence[Cut], record: Callable[[Purged], PreparedEvent]) -> list[Purged]:
        """Remove each cut from its tenant's chain, move the chain's start past it and append
        ``record(purged)`` to the chain, all in the purge's own transaction(s). A cut whose
        tenant is under legal hold, or whose start or last hash no longer match (another
        purge came first), is left alone and missing from the result."""
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
