"""The parts one running kansa shares: settings, store, catalog, writer, key cache."""

from __future__ import annotations

from dataclasses import dataclass, field

from kansa.access import KeyCache
from kansa.catalog import Catalog, default_catalog_paths, load_catalog
from kansa.ingest import Writer
from kansa.settings import Settings
from kansa.store import Store, open_store


def load_catalog_for(settings: Settings) -> Catalog:
    return load_catalog([*default_catalog_paths(), *settings.catalogs])


@dataclass
class Runtime:
    settings: Settings
    store: Store
    catalog: Catalog
    writer: Writer = field(init=False)
    keys: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.writer = Writer(self.store, max_events=self.settings.commit_max_events)
        self.keys = KeyCache(self.store, ttl=self.settings.key_cache_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(settings, open_store(settings.database_url), load_catalog_for(settings))

    def start(self) -> None:
        self.store.migrate()
        self.writer.start()

    def close(self) -> None:
        self.writer.close()
        self.store.close()
