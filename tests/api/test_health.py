"""``/healthz`` (liveness) and ``/readyz`` (readiness: database writable, disk space for
SQLite, signing key) on either engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from tests.outage import mount, tmpfs


def test_ready_when_every_check_passes(client: TestClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "checks": {"database": "ok", "disk": "ok", "signing_key": "ok"},
    }


@pytest.fixture
def app_with(tmp_path: Path) -> Iterator[object]:
    opened: list[Runtime] = []

    def build(**changes: object) -> TestClient:
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'kansa.db'}", **changes)  # type: ignore[arg-type]
        runtime = Runtime.from_settings(settings)
        runtime.start()
        opened.append(runtime)
        return TestClient(create_app(runtime=runtime))

    yield build
    for runtime in opened:
        runtime.close()


def test_not_ready_below_the_free_space_threshold(app_with: object) -> None:
    client = app_with(ready_min_free_mb=10**12)  # type: ignore[operator]
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json()["failed"] == ["disk"]
    assert "below" in answer.json()["checks"]["disk"]


def test_not_ready_without_the_signing_key(app_with: object, tmp_path: Path) -> None:
    client = app_with(signing_key_file=tmp_path / "no-such.key")  # type: ignore[operator]
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["failed"] == ["signing_key"]
    assert client.get("/healthz").status_code == 200  # alive all the same


def test_not_ready_when_the_database_takes_no_write(tmp_path: Path) -> None:
    """A SQLite file on a file system remounted read-only: still alive (it reads), not
    ready (it cannot write)."""
    with tmpfs(tmp_path / "fs") as directory:
        url = f"sqlite:///{directory / 'kansa.db'}"
        settings = Settings(database_url=url, ready_min_free_mb=1)
        runtime = Runtime.from_settings(settings)
        runtime.start()
        try:
            client = TestClient(create_app(runtime=runtime))
            assert client.get("/readyz").status_code == 200
            runtime.store.close()  # no file open for writing: the remount may go
            mount("-o", "remount,ro", str(directory))
            answer = client.get("/readyz")
            assert answer.status_code == 503 and answer.json()["failed"] == ["database"]
            assert answer.headers["retry-after"] == "5"
        finally:
            runtime.close()
