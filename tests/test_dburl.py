"""Database URLs as kansa prints them: never with the password."""

from __future__ import annotations

import pytest

from kansa.dburl import in_memory, masked
from kansa.errors import ConfigError
from kansa.store import open_store


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://kansa:s3cr%40t@10.0.0.1:5432,10.0.0.2:5432/kansa"
            "?target_session_attrs=read-write",
            "postgresql://kansa:***@10.0.0.1:5432,10.0.0.2:5432/kansa"
            "?target_session_attrs=read-write",
        ),
        ("postgresql://kansa@db/kansa?sslmode=require&password=s3cret", None),
        ("postgresql://db/kansa", "postgresql://db/kansa"),
        ("sqlite:///./kansa.db", "sqlite:///./kansa.db"),
    ],
)
def test_a_password_is_masked(url: str, shown: str | None) -> None:
    assert "s3cr" not in masked(url)
    if shown is not None:
        assert masked(url) == shown


def test_a_read_url_needs_postgresql() -> None:
    with pytest.raises(ConfigError, match="PostgreSQL"):
        open_store("sqlite:///:memory:", "postgresql://standby/kansa")
    with pytest.raises(ConfigError, match="postgresql://"):
        open_store("postgresql://primary/kansa", "sqlite:///:memory:")


def test_a_database_in_memory_is_told_from_one_on_disk() -> None:
    assert in_memory("sqlite://:memory:") and in_memory("sqlite:///:memory:")
    assert not in_memory("sqlite:///./kansa.db")
    assert not in_memory("sqlite:////var/lib/kansa/memory.db")
    assert not in_memory("postgresql://kansa@db/:memory:")
