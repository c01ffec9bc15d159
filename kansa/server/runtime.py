"""The parts one running kansa shares: settings, store, catalog, layouts, writer, keys, the
threads that stream exports and those that check passwords — and the one way kansa records
its own events."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kansa.access.readers import RECHECK_SECONDS, KeyCache, Reader
from kansa.catalog import Catalog, default_catalog_paths, load_catalog
from kansa.catalog.layout import DEFAULT_LAYOUT, Layout, default_layout_paths, load_layouts
from kansa.catalog.screens import (
    Screen,
    default_screen_paths,
    load_screens,
    screen_for,
    with_log_access,
)
from kansa.errors import ConfigError, NotFound
from kansa.events.own import own_event
from kansa.integrity.keyfile import load_signer, token_secret
from kansa.integrity.registry import check_signer
from kansa.integrity.signing import Signer
from kansa.records import Tenant
from kansa.server import writer_hub, writer_process
from kansa.server.metrics import Metrics
from kansa.server.writer import Writer
from kansa.server.writer_process import ProcessWriter
from kansa.settings import Settings
from kansa.store import Receipt, Store, open_store

T = TypeVar("T")

PASSWORD_THREADS = 2
"""Password checks (argon2id: about 0.15 s of CPU and 64 MiB each) at once per process; more
sign-ins queue among themselves, and never take the threads other requests read with."""
LOCKED = ("console.signin_failed", "account is locked")
"""The own event (action, reason) of a sign-in refused by a locked account: a lockout."""

EXPORT_THREADS = 3
"""Exports streaming at once per process (API and console together); more wait for a free
thread. Threads are reused, so a thread's store connection is too."""


def load_catalog_for(settings: Settings) -> Catalog:
    return load_catalog([*default_catalog_paths(), *settings.catalogs])


def load_layouts_for(settings: Settings) -> dict[str, Layout]:
    return load_layouts([*default_layout_paths(), *settings.layouts])


def load_screens_for(settings: Settings, layouts: Iterable[str]) -> dict[str, Screen]:
    return load_screens([*default_screen_paths(), *settings.screens], layouts)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    catalog: Catalog
    layouts: dict[str, Layout] = field(default_factory=dict)
    screens: dict[str, Screen] = field(default_factory=dict)
    writer: Writer = field(init=False)
    keys: KeyCache = field(init=False)
    exports: ThreadPoolExecutor = field(init=False)
    passwords: ThreadPoolExecutor = field(init=False)
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(jobs=self.settings.jobs)
        self.writer = self._writer()
        self.keys = KeyCache(self.store, ttl=self.settings.key_cache_seconds)
        self.exports = ThreadPoolExecutor(EXPORT_THREADS, thread_name_prefix="kansa-export")
        self.passwords = ThreadPoolExecutor(PASSWORD_THREADS, thread_name_prefix="kansa-password")
        self.layouts = self.layouts or load_layouts_for(self.settings)
        self.screens = self.screens or load_screens_for(self.settings, self.layouts)
        self._secret: bytes | None = None
        self._signer: Signer | None = None
        self._retired: frozenset[str] = frozenset()
        self._retired_until = 0.0

    def _writer(self) -> Writer:
        url, most = self.settings.database_url, self.settings.commit_max_events
        sqlite = url.startswith("sqlite")
        shared = self.settings.writer_socket  # a worker's: the writer all workers share
        if shared is not None or writer_process.wanted(self.settings):
            # PostgreSQL's own process does most of a commit's work: the child commits the
            # requests as they come. On SQLite the child does it all and gains by taking them
            # in groups (docs/benchmarks.md).
            return ProcessWriter(
                self.store,
                url,
                max_events=most,
                metrics=self.metrics,
                at_once=not sqlite,
                connect=functools.partial(writer_hub.connect, shared) if shared else None,
            )
        return Writer(self.store, max_events=most, metrics=self.metrics)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        store = open_store(settings.database_url, settings.read_database_url)
        return cls(settings, store, load_catalog_for(settings))

    def start(self) -> None:
        self.store.migrate()
        try:
            self.secret_key()  # read now, not on the event loop of a first request
        except ConfigError:
            pass  # no signing key: /readyz says so; tokens and sessions are a 503 meanwhile
        try:
            load_signer(self.settings)
        except ConfigError:
            pass  # no key here: /readyz says so, and signing waits for one
        else:
            self.signer()  # another key than the database's refuses to start
        self.writer.start()

    def close(self) -> None:
        self.exports.shutdown(cancel_futures=True)
        self.passwords.shutdown(cancel_futures=True)
        self.writer.close()
        self.store.close()

    def tenant(self, tenant_id: str) -> Tenant:
        found = self.store.get_tenant(tenant_id)
        if found is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        return found

    def layout_of(self, tenant: Tenant) -> Layout:
        return self.layouts.get(tenant.layout or "", DEFAULT_LAYOUT)

    def screen_of(self, layout: Layout) -> Screen:
        screen = screen_for(self.screens, layout.id)
        return with_log_access(screen) if layout.log_access else screen

    def secret_key(self) -> bytes:
        """The key that signs viewer tokens and console sessions: the setting, else derived
        from the signing key, so every kansa process with that key agrees and no row of the
        database holds it."""
        if self._secret is None:
            self._secret = token_secret(self.settings)
        return self._secret

    def signer(self) -> Signer:
        """The key that signs checkpoints and export manifests: ConfigError when there is
        none (``kansa init`` makes one), or when it is not the database's registered key
        (:mod:`kansa.integrity.registry`)."""
        if self._signer is None:
            signer = load_signer(self.settings)
            check_signer(self.store, signer)
            self._signer = signer
        return self._signer

    async def retired_tenants(self) -> frozenset[str]:
        """The retired tenants, read again at most once a second (so a tenant retired by
        any process is refused by this one within a second)."""
        if time.monotonic() >= self._retired_until:
            self._retired = await self.read(self.store.retired_tenants)
            self._retired_until = time.monotonic() + RECHECK_SECONDS
        return self._retired

    def forget_retired(self) -> None:
        """Read the retired tenants again at the next publish (this process retired one)."""
        self._retired_until = 0.0

    async def read(self, work: Callable[[], T]) -> T:
        """Run a blocking store read off the event loop."""
        return await asyncio.to_thread(work)

    async def check_password(self, work: Callable[[], T]) -> T:
        """Run a sign-in's password check (and its store reads and writes) on the threads
        kept for password hashing, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.passwords, work)

    async def record(
        self,
        actor: Reader | Mapping[str, str] | None,
        tenant: str,
        action: str,
        params: Mapping[str, Any] | None = None,
        ip: str | None = None,
        *,
        result: str = "success",
        details: Mapping[str, Any] | None = None,
    ) -> list[Receipt]:
        """Record in the tenant's own log something done with it (a view, a search, an
        export, a sign-in) — kansa's own event, appended like any published one. ``actor`` is
        a reader, an actor as stored, or None for someone unknown (an anonymous event)."""
        if action == LOCKED[0] and (details or {}).get("reason") == LOCKED[1]:
            self.metrics.lockouts.inc()
        who = actor.actor() if isinstance(actor, Reader) else actor
        event = own_event(
            self.catalog, tenant, action, who, params, ip=ip, result=result, details=details
        )
        return await self.writer.append([event])
