"""Background jobs on several nodes of one PostgreSQL database: every node runs them, one
acts. Each node here is a runtime of its own (its own connection pool, so its own sessions,
as a separate ``kansa serve`` would have)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.server.jobs import Jobs
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from tests import pg
from tests.helpers import pca_event

TENANTS = [f"org-jobs-{n}" for n in range(6)]


@pytest.fixture
def two_nodes(postgres_server: str) -> Iterator[tuple[Runtime, Runtime]]:
    url = pg.create_database(postgres_server)
    settings = Settings(database_url=url, checkpoint_every_events=1, purge_at=None)
    nodes = (Runtime.from_settings(settings), Runtime.from_settings(settings))
    nodes[0].store.migrate()
    try:
        yield nodes
    finally:
        for node in nodes:
            node.close()
        pg.drop_database(postgres_server, url)


def test_a_node_skips_a_round_another_node_is_running(
    two_nodes: tuple[Runtime, Runtime], catalog: Catalog
) -> None:
    first, second = two_nodes
    now = datetime.now(UTC)
    first.store.append(prepare([pca_event("org-lock", n) for n in range(1, 4)], catalog))
    with first.store.exclusive("checkpoint") as mine:
        assert mine
        with second.store.exclusive("checkpoint") as theirs:
            assert not theirs
        assert Jobs(second).sign_due(now) == 0
        assert second.store.checkpoints("org-lock") == []
        with second.store.exclusive("purge") as other_job:
            assert other_job, "each job has a lock of its own"
    assert Jobs(second).sign_due(now) == 1, "the lock goes with the block"
    assert [c.seq for c in second.store.checkpoints("org-lock")] == [3]


def test_two_nodes_signing_at_once_sign_each_checkpoint_once(
    two_nodes: tuple[Runtime, Runtime], catalog: Catalog
) -> None:
    """Both nodes' rounds start together, twenty times: what each says it signed adds up to
    the checkpoints stored — no round signs a head the other node signed too."""
    jobs = [Jobs(node) for node in two_nodes]
    reported = [0, 0]
    start = threading.Barrier(2)

    def round_of(index: int, now: datetime) -> None:
        start.wait(timeout=10)
        reported[index] += jobs[index].sign_due(now)

    for number in range(1, 21):
        events = [pca_event(tenant, number) for tenant in TENANTS]
        two_nodes[number % 2].store.append(prepare(events, catalog))
        now = datetime.now(UTC)
        threads = [threading.Thread(target=round_of, args=(i, now)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    stored = [c for tenant in TENANTS for c in two_nodes[0].store.checkpoints(tenant)]
    assert len(stored) == 20 * len(TENANTS)
    assert sum(reported) == len(stored), f"signed {reported} for {len(stored)} checkpoints"
    assert len({(c.tenant, c.seq) for c in stored}) == len(stored)
