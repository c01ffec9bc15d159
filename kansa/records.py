"""The records kansa keeps besides events: tenants, API keys and accounts, as every layer
speaks of them. Storage reads and writes them; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from kansa.integrity.chain import GENESIS
from kansa.words import Lang, Role

DEFAULT_TZ = "Asia/Tokyo"
DEFAULT_LANG: Lang = "ja"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str | None
    layout: str | None
    tz: str
    lang: Lang
    created_at: datetime
    last_seq: int
    last_hash: str
    record_searches: bool = False
    """Whether searching the log is itself recorded (detail views and exports always are)."""
    chain_start_seq: int = 1
    """Where the chain begins: 1, or the seq after the last event a purge removed."""
    chain_start_hash: str = GENESIS
    """The ``prev_hash`` of the event at ``chain_start_seq``."""
    checkpoint_seq: int = 0
    """The seq of the tenant's latest signed checkpoint (0: none)."""
    checkpoint_at: datetime | None = None
    retention: Mapping[str, int] = field(default_factory=dict)
    """Days kept per history where this tenant overrides its product (0: keep forever)."""
    legal_hold: str | None = None
    """Why purging is stopped for this tenant; None when it is not."""
    legal_hold_since: datetime | None = None
    retired_at: datetime | None = None
    """When the tenant was retired (no events published for it since); None while active."""
    retired_reason: str | None = None
    region: str | None = None
    """Where the tenant's product runs (Cybozu: JP, US, CN); None: no region. An event type
    its catalog logs in some regions only is refused for tenants of the others."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: never the secret, only its hash."""

    id: str
    app: str
    tenant: str | None
    scopes: frozenset[str]
    secret_hash: str
    created_at: datetime
    revoked: bool
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    """After this the key is refused; None: it does not expire."""
    last_used_at: datetime | None = None
    """When the key was last seen, written at most once a minute per process."""
    previous_secret_hash: str | None = None
    """The secret the last rotation replaced, still accepted until ``previous_until``."""
    previous_until: datetime | None = None
    changed_at: datetime | None = None
    """When the key was last revoked or rotated (caches drop it when this moves)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A public key that signs (or signed) this database's checkpoints and manifests."""

    key_id: str
    public_key: str
    """PEM."""
    created_at: datetime
    retired_at: datetime | None
    """When a rotation replaced it; None for the current key."""


@dataclass(frozen=True, slots=True)
class Account:
    """A person who signs in to read a tenant's log; the password only as its hash."""

    tenant: str
    login: str
    name: str
    role: Role
    password_hash: str
    failures: int
    locked_until: datetime | None
    disabled_at: datetime | None = None
    """When the account was disabled (it cannot sign in); None while enabled."""


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """What to change of an account; None leaves it as it is. ``disabled`` True disables,
    False enables; ``unlock`` clears failed sign-ins and the lock."""

    disabled: bool | None = None
    role: str | None = None
    password_hash: str | None = None
    unlock: bool = False


@dataclass(frozen=True, slots=True)
class TenantChanges:
    """What to change of a tenant; None leaves a setting as it is. ``retention`` is days per
    history (0 keeps forever), replacing the tenant's whole table of overrides."""

    name: str | None = None
    layout: str | None = None
    tz: str | None = None
    lang: str | None = None
    record_searches: bool | None = None
    retention: Mapping[str, int] | None = None
    region: str | None = None

    def given(self) -> dict[str, object]:
        """The settings to change, by column name."""
        values = {name: getattr(self, name) for name in self.__slots__}
        return {name: value for name, value in values.items() if value is not None}
