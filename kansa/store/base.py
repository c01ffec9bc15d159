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
from kansa.records import (
    Account,
    AccountChanges,
    ApiKey,
    SigningKey,
    Tenant,
    TenantChanges,
)
from kansa.store.search import Page


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
