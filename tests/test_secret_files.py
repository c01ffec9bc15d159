"""Secrets on disk: the SQLite database and its ``-wal``/``-shm`` are made 0600 and refused
when others may read them, and no row of the database holds what signs viewer tokens and
console sessions — whoever reads every row still cannot mint a token."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kansa.access import tokens
from kansa.cli import app
from kansa.dburl import path_of
from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from kansa.store import open_store
from kansa.timeutil import utcnow
from tests.helpers import new_key, pca_event, viewer_token
from tests.raw import execute


def every_value(url: str) -> set[bytes]:
    """Every text and binary value of every row of every table, as bytes."""
    if url.startswith("sqlite"):
        names = execute(url, "SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        names = execute(url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    found: set[bytes] = set()
    for (table,) in names:
        for row in execute(url, f'SELECT * FROM "{table}"'):
            found.update(_as_bytes(value) for value in row if isinstance(value, str | bytes))
    return found


def _as_bytes(value: str | bytes | memoryview[Any]) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


@pytest.fixture
def served(fresh_url: str) -> Iterator[tuple[Runtime, TestClient]]:
    runtime = Runtime.from_settings(Settings(database_url=fresh_url))
    runtime.start()
    with TestClient(create_app(runtime=runtime)) as client:
        yield runtime, client
    runtime.close()


def test_a_reader_of_every_row_cannot_mint_a_token(
    served: tuple[Runtime, TestClient], fresh_url: str
) -> None:
    runtime, client = served
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    key = new_key(runtime.store)
    published = client.post(
        "/api/v1/events", json=pca_event(tenant), headers={"Authorization": f"Bearer {key}"}
    )
    assert published.status_code == 201
    real = viewer_token(runtime, tenant).token
    query = {"tenant": tenant}
    assert client.get("/api/v1/events", params=query, headers=bearer(real)).status_code == 200
    candidates = every_value(fresh_url)
    assert len(candidates) > 20  # the database has rows: tenants, keys, events, migrations
    for candidate in candidates:
        forged = tokens.mint(
            candidate, tenant=tenant, actor_id="x", name="x", role="admin", ttl=60, now=utcnow()
        )
        answer = client.get("/api/v1/events", params=query, headers=bearer(forged.token))
        assert answer.status_code == 401, candidate[:40]
    if fresh_url.startswith("sqlite"):  # nor anywhere in the files, free pages included
        path = Path(path_of(fresh_url))
        for name in (path, path.with_name(path.name + "-wal")):
            assert runtime.secret_key() not in (name.read_bytes() if name.exists() else b"")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_database_and_its_wal_are_its_owners_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kansa.db'}"
    old = os.umask(0o002)
    try:
        store = open_store(url)
        store.migrate()
        store.create_tenant("t-1", name="n", layout=None, tz="Asia/Tokyo", lang="ja")
        made = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        store.close()
    finally:
        os.umask(old)
    assert made == {"kansa.db": 0o600, "kansa.db-wal": 0o600, "kansa.db-shm": 0o600}


@pytest.mark.parametrize("name", ["kansa.db", "kansa.db-wal"])
@pytest.mark.parametrize("command", [["verify"], ["serve"], ["tenant", "list"]])
def test_a_database_others_may_read_is_refused(
    tmp_path: Path, name: str, command: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'kansa.db'}"
    store = open_store(url)
    store.migrate()
    store.close()
    (tmp_path / "kansa.db-wal").touch(mode=0o600)  # as a process that did not close leaves it
    (tmp_path / name).chmod(0o644)
    result = CliRunner().invoke(app, [*command, "--db", url])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"kansa: database {'' if name == 'kansa.db' else 'file '}{tmp_path / name} may be read"
        f" by others (mode 0644): chmod 600 {tmp_path / name}\n"
    )
