"""``kansa migrate status`` and ``kansa migrate`` on an empty database of every engine: every
migration pending (exit 1), then applied, then none pending (exit 0)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kansa.store.schema import MIGRATIONS
from tests import pg
from tests.cli.test_cli import kansa


@pytest.fixture
def empty_url(store_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of ``store_url``'s engine with no schema at all."""
    if store_url.startswith("sqlite"):
        path = tmp_path / "empty.db"
        path.touch(mode=0o600)  # kansa refuses a database others may read
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    url = pg.create_database(server)
    try:
        yield url
    finally:
        pg.drop_database(server, url)


def lines_of(text: str, start: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith(start))


def test_status_lists_pending_migrations_until_migrate_applies_them(empty_url: str) -> None:
    code, out, err = kansa("migrate", "status", "--json", "--db", empty_url)
    listed = json.loads(out)
    assert code == 1 and "pending" in err and listed["applied"] == []
    assert [m["version"] for m in listed["pending"]] == [m.version for m in MIGRATIONS]
    code, out, _ = kansa("migrate", "--db", empty_url)
    assert code == 0 and lines_of(out, "applied ") == len(MIGRATIONS)
    code, out, _ = kansa("migrate", "status", "--db", empty_url)
    assert code == 0 and lines_of(out, "applied ") == len(MIGRATIONS) and "pending" not in out
    assert kansa("migrate", "--db", empty_url)[1].endswith("(0 migration(s) applied now)\n")


def test_status_of_a_database_that_is_not_there_exits_2(tmp_path: Path) -> None:
    code, _, err = kansa("migrate", "status", "--db", f"sqlite:///{tmp_path / 'nope.db'}")
    assert code == 2 and "no database" in err
