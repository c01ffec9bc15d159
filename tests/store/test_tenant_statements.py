"""Ready to shard by tenant: every statement kansa runs on the events of a representative
workload (publish, search, stream, read one event and one job, sign checkpoints, purge,
legal hold) filters on one tenant — the purge's per-partition prunes included — but for the
exceptions listed here with their reason.
The statements are the server's own record of them (``log_statement = 'all'``) on a
throwaway PostgreSQL of this test's own, so none is missed, COPY included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from kansa import retention
from kansa.events.query import Query
from kansa.records import TenantChanges
from kansa.server.app import create_app
from kansa.server.jobs import Jobs
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from kansa.store import open_store
from tests import pg
from tests.helpers import new_key, pca_event

ON_EVENTS = re.compile(r"\b(events|event_keys)\b")
ONE_TENANT = re.compile(r"\btenant_id = \$\d+")
EXCEPTIONS = {
    # The writer's group commit: one transaction for the requests queued meanwhile, of any
    # tenants. A distributed PostgreSQL routes each copied or inserted row to its tenant's
    # shard.
    "group commit: the rows": re.compile(r"^(COPY events|INSERT INTO event_keys) \("),
    # ...or, for a small group onto heads the writer guessed, one statement that locks the
    # heads, moves them and inserts the keys and rows.
    "group commit in one statement": re.compile(r"^WITH guess AS \(SELECT \* FROM unnest\("),
    # ...and looks up its client ids, one primary-key probe per (tenant, id) pair.
    "per-tenant probes": re.compile(r"WHERE (tenant_id = [wc]\.(tenant_id|t))\b"),
}


@pytest.fixture(scope="module")
def logged_url() -> Iterator[tuple[str, Path]]:
    """A migrated database on a PostgreSQL of this module's own that logs every statement,
    and the file it logs to."""
    if pg.bindir() is None:
        pg.unavailable("no PostgreSQL binaries to start a server that logs its statements")
    server, stop = pg.throwaway_cluster()
    try:
        url = pg.create_database(server)
        store = open_store(url)
        store.migrate()
        store.close()
        with psycopg.connect(server, autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
            assert row is not None
            name = url.rsplit("/", 1)[1]
            conn.execute(f"ALTER DATABASE {name} SET log_statement = 'all'".encode())
        yield url, Path(row[0]).parent / "server.log"
    finally:
        stop()


def statements(log: Path) -> list[str]:
    """The statements the server logged, one string each (continuation lines joined)."""
    text = log.read_text(errors="replace")
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
    found = []
    for entry in entries:
        logged = re.search(r"LOG:  (?:statement|execute [^:]*): (.*)", entry, re.DOTALL)
        if logged:
            found.append(" ".join(logged.group(1).split()))
    return found


def workload(url: str) -> None:
    settings = Settings(database_url=url, checkpoint_every_events=1, purge_at=None)
    runtime = Runtime.from_settings(settings)
    runtime.start()
    store = runtime.store
    key = new_key(store)
    with TestClient(create_app(runtime=runtime)) as http:
        auth = {"Authorization": f"Bearer {key}"}
        for tenant in ("org-s1", "org-s2"):
            batch = [pca_event(tenant, n, correlation_id="job-1") for n in range(1, 6)]
            reply = http.post("/api/v1/events", json={"events": batch}, headers=auth)
            assert reply.status_code == 201, reply.text
            http.post("/api/v1/events", json=batch[0], headers=auth)  # a duplicate
            assert http.get("/api/v1/events", params={"tenant": tenant}, headers=auth).is_success
        now = datetime.now(UTC)
        Jobs(runtime).sign_due(now)
        first = store.search(Query(tenant="org-s1")).events[0]
        assert store.get_event("org-s1", first["id"]) is not None
        assert store.job_states("org-s1", "job-1")
        assert list(store.stream(Query(tenant="org-s2")))
        assert store.seq_range("org-s1", now - timedelta(days=3650), now) is not None
        store.count_events("org-s1")
        store.update_tenant("org-s1", TenantChanges(retention={"operation": 1}))
        purged = retention.purge(
            store, runtime.catalog, now=now + timedelta(days=3650), key=runtime.signer().public_key
        )
        assert any(plan.purged for plan in purged)
        operator = {"id": "operator", "name": "operator"}
        retention.set_legal_hold(store, runtime.catalog, "org-s2", "audit", operator)
    runtime.close()


def test_every_statement_on_events_filters_on_one_tenant(logged_url: tuple[str, Path]) -> None:
    url, log = logged_url
    before = len(statements(log))
    workload(url)
    seen = [s for s in statements(log)[before:] if ON_EVENTS.search(s)]
    assert len(seen) > 20, "the workload ran its statements on events"
    loose = [
        s
        for s in seen
        if not ONE_TENANT.search(s) and not any(r.search(s) for r in EXCEPTIONS.values())
    ]
    assert loose == []
    for reason, pattern in EXCEPTIONS.items():
        assert any(pattern.search(s) for s in seen), f"the exception for {reason} is used"
