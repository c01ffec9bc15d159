"""No request waits for another's database read: a read held up by a lock (a key not yet in
the cache, a tenant record) is made off the event loop, so the app keeps answering. Shown on
PostgreSQL, whose table locks stop readers too (SQLite's WAL lets a reader past any lock)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from tests import pg
from tests.helpers import new_key, pca_event
from tests.locks import table_held, wait_for_lock_waiter


@pytest.fixture
def pg_runtime(postgres_server: str) -> Iterator[Runtime]:
    url = pg.create_database(postgres_server)
    runtime = Runtime.from_settings(Settings(database_url=url))
    runtime.start()
    yield runtime
    runtime.close()
    pg.drop_database(postgres_server, url)


@pytest.mark.parametrize(
    ("table", "meanwhile"),
    [("api_keys", "/healthz"), ("tenants", "/api/v1/public-key")],
)
def test_a_read_waiting_for_a_lock_does_not_stop_other_requests(
    pg_runtime: Runtime, catalog: Catalog, table: str, meanwhile: str
) -> None:
    store = pg_runtime.store
    store.append(prepare([pca_event("org-lock")], catalog))
    auth = {"Authorization": f"Bearer {new_key(store)}"}  # not in the key cache yet
    url = pg_runtime.settings.database_url
    with TestClient(create_app(runtime=pg_runtime)) as client, ThreadPoolExecutor(2) as threads:
        with table_held(url, table):
            search = threads.submit(
                client.get, "/api/v1/events", params={"tenant": "org-lock"}, headers=auth
            )
            wait_for_lock_waiter(url)
            started = time.monotonic()
            other = threads.submit(client.get, meanwhile)
            answered = other.exception(timeout=5) is None and other.result().status_code == 200
            took = time.monotonic() - started
            assert not search.done()
        assert answered and took < 2, f"{meanwhile} waited {took:.1f} s for the held read"
        assert search.result(timeout=30).status_code == 200
        assert len(search.result().json()["events"]) == 1
