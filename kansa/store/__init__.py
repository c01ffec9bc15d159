"""Storage: the :class:`Store` interface and its engines, chosen by URL."""

from __future__ import annotations

from kansa.dburl import masked
from kansa.errors import ConfigError
from kansa.store.base import Receipt, Store


def open_store(
    url: str, read_url: str | None = None, *, sqlite_cache_mib: int | None = None
) -> Store:
    """Open the store a database URL names: ``sqlite:///path`` or ``postgresql://…``;
    PostgreSQL's searches and exports read at ``read_url`` when given (a standby). SQLite:
    ``sqlite_cache_mib`` is each connection's page cache (None: the store's default)."""
    if read_url is not None and not read_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("KANSA_READ_DATABASE_URL must be a postgresql:// URL")
    if url.startswith("sqlite://"):
        if read_url is not None:
            raise ConfigError("KANSA_READ_DATABASE_URL needs a PostgreSQL database, not SQLite")
        from kansa.store.sqlite import SQLiteStore

        return (
            SQLiteStore(url)
            if sqlite_cache_mib is None
            else SQLiteStore(url, cache_mib=sqlite_cache_mib)
        )
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from kansa.store.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - psycopg or psycopg-pool missing
            raise ConfigError(f"PostgreSQL store is not available: {exc}") from exc
        return PostgresStore(url, read_url=read_url)
    raise ConfigError(
        f"unsupported database URL {masked(url)!r}: "
        "use sqlite:///path/to/file.db or postgresql://..."
    )


__all__ = ["Receipt", "Store", "open_store"]
