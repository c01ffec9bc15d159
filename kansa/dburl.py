"""What a database URL says, read without opening anything: the storage engines open the
database, and the key file's default place (beside a SQLite file) is found from the same
reading, so neither the settings nor the integrity keys import a storage engine."""

from __future__ import annotations


def path_of(url: str) -> str:
    """``sqlite:///./kansa.db`` → ``./kansa.db``; ``sqlite:////abs/path.db`` → ``/abs/path.db``;
    ``sqlite://:memory:`` → ``:memory:``."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest[1:] if rest.startswith("/") else rest
