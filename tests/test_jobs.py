"""What ``kansa serve`` does on its own — checkpoints every N events or T minutes, a purge at
the time of day — on a database of its own per engine, with the clock faked; and the thread
that does it starts and stops with the app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.server.app import create_app
from kansa.server.jobs import Jobs, next_run
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from tests.helpers import intact, pca_event


@pytest.fixture
def fresh_runtime(fresh_url: str) -> Iterator[Runtime]:
    settings = Settings(
        database_url=fresh_url,
        checkpoint_every_events=3,
        checkpoint_every_minutes=10,
        purge_at="03:00",
    )
    runtime = Runtime.from_settings(settings)
    yield runtime
    runtime.close()


def jobs_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "kansa-jobs"]


def test_next_run_is_the_next_time_of_day() -> None:
    at = datetime(2026, 11, 22, 2, 59, tzinfo=UTC)
    assert next_run("03:00", at) == datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    assert next_run("03:00", at + timedelta(minutes=1)) == datetime(2026, 11, 23, 3, tzinfo=UTC)
    assert next_run(None, at) is None


def test_checkpoints_are_signed_every_n_events_or_t_minutes(
    fresh_runtime: Runtime, catalog: Catalog
) -> None:
    store, now = fresh_runtime.store, datetime.now(UTC)
    jobs = Jobs(fresh_runtime, clock=lambda: now)
    store.append(prepare([pca_event("org-a", n) for n in range(1, 3)], catalog))
    assert jobs.sign_due(now) == 1  # a tenant's first events: at once
    store.append(prepare([pca_event("org-a", 3)], catalog))
    assert jobs.sign_due(now + timedelta(minutes=1)) == 0  # 1 event, 1 minute: not yet
    assert jobs.sign_due(now + timedelta(minutes=11)) == 1  # T minutes
    store.append(prepare([pca_event("org-a", n) for n in range(4, 7)], catalog))
    assert jobs.sign_due(now + timedelta(minutes=12)) == 1  # N events
    assert [c.seq for c in store.checkpoints("org-a")] == [2, 3, 6]
    walk = intact(store, "org-a", fresh_runtime.signer().public_key)
    assert walk.anchors == 3


def test_the_job_signs_the_head_its_own_writer_committed(
    fresh_runtime: Runtime, catalog: Catalog
) -> None:
    fresh_runtime.start()
    now = datetime.now(UTC)
    receipts = fresh_runtime.writer.submit(
        prepare([pca_event("org-w", n) for n in range(1, 5)], catalog)
    ).result(timeout=10)
    assert fresh_runtime.writer.written_heads() == {"org-w": (4, receipts[-1].hash)}
    assert Jobs(fresh_runtime, clock=lambda: now).sign_due(now) == 1
    (checkpoint,) = fresh_runtime.store.checkpoints("org-w")
    assert (checkpoint.seq, checkpoint.head_hash) == (4, receipts[-1].hash)
    walk = intact(fresh_runtime.store, "org-w", fresh_runtime.signer().public_key)
    assert walk.anchors == 1


def test_the_purge_runs_once_a_day_at_its_time(fresh_runtime: Runtime, catalog: Catalog) -> None:
    store = fresh_runtime.store
    today = datetime.now(UTC).replace(hour=2, minute=59, second=0, microsecond=0)
    jobs = Jobs(fresh_runtime, clock=lambda: today)
    old = (today - timedelta(days=800)).isoformat()
    store.append(prepare([pca_event("org-b", 1, occurred_at=old)], catalog))
    store.append(prepare([pca_event("org-b", 2)], catalog))
    jobs.run_due(today)
    assert store.count_events("org-b") == 2, "not 03:00 yet"
    jobs.run_due(today + timedelta(minutes=2))
    pruned = [link.pruned for link in store.chain("org-b")]
    assert pruned == ["retention", None, None]  # seq 1 pruned, the purge recorded
    assert jobs.next_purge == today + timedelta(days=1, minutes=1)


def test_the_jobs_thread_runs_with_the_app_and_stops_with_it(
    fresh_url: str, catalog: Catalog
) -> None:
    settings = Settings(database_url=fresh_url)
    seed = Runtime.from_settings(settings)
    seed.store.append(prepare([pca_event("org-c", 1)], catalog))
    seed.close()
    app = create_app(settings)
    with TestClient(app) as client:
        assert len(jobs_threads()) == 1
        assert client.get("/healthz").status_code == 200
        runtime: Runtime = app.state.kansa
        for _ in range(100):  # the first round runs at start
            if runtime.store.checkpoints("org-c"):
                break
            threading.Event().wait(0.05)
        assert [c.seq for c in runtime.store.checkpoints("org-c")] == [1]
    assert jobs_threads() == []
    with TestClient(create_app(settings, jobs=False)):
        assert jobs_threads() == []
