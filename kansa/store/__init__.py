"""Storage: the :class:`Store` interface and its engines, chosen by URL."""

from __future__ import annotations

from kansa.dburl import masked
from kansa.errors import ConfigError
from kansa.store.base import Receipt, Store


def open_store(url: str) -> Store:
    """Open the store a database URL names: ``sqlite:///path`` or ``postgresql://…``."""
    if url.startswith("sqlite://"):
        from kansa.store.sqlite import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from kansa.store.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - psycopg or psycopg-pool missing
            raise ConfigError(f"PostgreSQL store is not available: {exc}") from exc
        return PostgresStore(url)
    raise ConfigError(
        f"unsupported database URL {masked(url)!r}: "
        "use sqlite:///path/to/file.db or postgresql://..."
    )


__all__ = ["Receipt", "Store", "open_store"]
