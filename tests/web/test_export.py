"""The console's download (kansa/web/export.py) through the real app on every engine: it
streams on the Runtime's export threads as the API's does, a download cut short stops its
thread and closes its cursor, and the threads end with the app."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.stored import StoredEvent
from kansa.server.app import create_app
from kansa.server.runtime import EXPORT_THREADS
from kansa.settings import Settings
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import password_hash, pca_event
from tests.web.seed import PASSWORD
from tests.web.test_auth import sign_in

ROWS = 6000


@pytest.fixture
def big(store: Store, catalog: Catalog, tenant_id: str) -> str:
    """A PCA ID tenant with an administrator and more rows than a stream holds in flight."""
    store.create_tenant(tenant_id, name="big", layout="pca-id", tz="Asia/Tokyo", lang="ja")
    hashed = password_hash(PASSWORD)
    store.create_account(tenant_id, "admin", name="管理 太郎", role="admin", password_hash=hashed)
    start = (utcnow() - timedelta(days=20)).replace(microsecond=0)
    events = [
        pca_event(tenant_id, n, occurred_at=(start + timedelta(seconds=n)).isoformat())
        for n in range(ROWS)
    ]
    store.append(prepare(events, catalog))
    return tenant_id


class Cursors:
    """Counts the store's export cursors opened and closed (the store itself, wrapped)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened = self.closed = 0
        self._lock = threading.Lock()
        original = store.stream

        def counted(query: Any, batch: int = 2000) -> Iterator[StoredEvent]:
            with self._lock:
                self.opened += 1
            try:
                yield from original(query, batch)
            finally:
                with self._lock:
                    self.closed += 1

        monkeypatch.setattr(store, "stream", counted)

    def all_closed(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.opened and self.opened == self.closed:
                    return True
            time.sleep(0.05)
        return False


def test_downloads_cut_short_leave_no_export_thread_behind(
    store_url: str, big: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(database_url=store_url), jobs=False)
    runtime = app.state.kansa
    with TestClient(app) as client:
        cursors = Cursors(runtime.store, monkeypatch)
        assert sign_in(client, big, "admin").status_code == 303
        found = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/log").text)
        assert found is not None
        form = {"csrf": found.group(1), "from": "", "to": ""}
        for _ in range(EXPORT_THREADS + 1):  # more than there are threads
            with client.stream("POST", "/console/export/events", data=form) as reply:
                assert reply.status_code == 200
                next(reply.iter_raw())
            assert cursors.all_closed(), "a download cut short left its cursor open"
        whole = client.post("/console/export/events", data=form)
        assert whole.status_code == 200 and whole.content.count(b"\r\n") > ROWS  # and ours
    with pytest.raises(RuntimeError):  # the app's end shut its export threads down
        runtime.exports.submit(time.monotonic)
