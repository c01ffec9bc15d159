"""A cluster of real processes on loopback (deploy/cluster.sh): what kansa answered 201 for is
on the synchronous standby; searches read the standby and find what was just accepted; with
no primary the nodes answer 503 with Retry-After, never 500, and the client's spool keeps the
events; after the standby is promoted the nodes find it by themselves, the spool delivers,
and every event is stored once in a chain that verifies. The tests run in file order on one
cluster: the failover comes last."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from kansa.client import Client
from tests.cluster.conftest import Cluster
from tests.helpers import pca_event

pytestmark = pytest.mark.slow

THIRD = int(os.environ.get("KANSA_TEST_CLUSTER_EVENTS", "300")) // 3
"""A third of the events the failover test publishes: before, while there is no primary,
and while the standby is promoted (`make chaos` sets KANSA_TEST_CLUSTER_EVENTS=50000)."""


def batch(start: int) -> list[dict[str, object]]:
    return [pca_event("org-failover", n) for n in range(start, start + THIRD)]


def test_an_acknowledged_event_is_on_the_standby(cluster: Cluster) -> None:
    primary, standby = cluster.primary_port(), cluster.standby_port()
    assert cluster.query(primary, "SHOW synchronous_commit") == [("remote_apply",)]
    assert cluster.query(primary, "SHOW synchronous_standby_names") == [("ANY 1 (*)",)]
    with cluster.http() as http:
        for n in range(1, 31):
            reply = http.post("/api/v1/events", json=pca_event("org-sync", n))
            assert reply.status_code == 201, reply.text
            # asked at once, of the standby alone: applied there before the 201
            found = cluster.query(
                standby,
                "SELECT seq FROM events WHERE tenant_id = %s AND client_id = %s",
                ("org-sync", f"evt-{n}"),
            )
            assert found == [(reply.json()["events"][0]["seq"],)]
    assert cluster.query(standby, "SELECT pg_is_in_recovery()") == [(True,)]


def test_searches_read_the_standby_and_find_what_was_just_accepted(cluster: Cluster) -> None:
    with cluster.http() as http:
        for n in range(1, 21):
            assert http.post("/api/v1/events", json=pca_event("org-read", n)).status_code == 201
            found = http.get("/api/v1/events", params={"tenant": "org-read"})
            assert found.status_code == 200
            assert len(found.json()["events"]) == n
    readers = cluster.query(
        cluster.standby_port(),
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kansa-read'",
    )
    assert readers[0][0] >= 1, "the nodes' searches read on the standby"


def test_a_failover_loses_nothing_acknowledged_and_answers_no_500(
    cluster: Cluster, tmp_path: Path
) -> None:
    statuses: list[int] = []
    retry_after: set[str | None] = set()
    client = Client(
        cluster.lb,
        cluster.key,
        spool_path=tmp_path / "spool.db",
        backoff_base=0.1,
        backoff_max=1.0,
        request_timeout=30,
    )
    published = client.publish_many(batch(1))
    assert client.flush(300)

    cluster.run("stop_primary", "-m", "KILL")
    killed = time.monotonic()
    published += client.publish_many(batch(THIRD + 1))
    with cluster.http() as http:
        for n in range(3):  # no primary: the nodes say so, and when to come back
            reply = http.post("/api/v1/events", json=pca_event("org-none", n))
            statuses.append(reply.status_code)
            retry_after.add(reply.headers.get("Retry-After"))
            statuses.append(http.get("/api/v1/events", params={"tenant": "org-read"}).status_code)
    assert client.stats.pending > 0, "the spool keeps what no node could store"
    promoted: list[float] = []

    def promote() -> None:
        cluster.run("promote")
        promoted.append(time.monotonic())

    later = threading.Timer(1.0, promote)
    later.start()
    published += client.publish_many(batch(2 * THIRD + 1))
    later.join()
    assert client.close(600), "the spool delivers once the standby is promoted"
    delivered = time.monotonic()

    posts = statuses[0::2]
    assert 500 not in statuses and set(posts) == {503}, statuses
    assert None not in retry_after
    stored = cluster.query(
        cluster.primary_port(),
        "SELECT client_id, count(*) FROM events WHERE tenant_id = %s GROUP BY client_id",
        ("org-failover",),
    )
    assert sorted(row[0] for row in stored) == sorted(published)
    assert {row[1] for row in stored} == {1}, "each event once"

    cluster.run("rejoin")  # the old primary, a synchronous standby again
    with cluster.http() as http:
        reply = http.post("/api/v1/events", json=pca_event("org-failover", 3 * THIRD + 1))
        assert reply.status_code == 201
    on_standby = cluster.query(
        cluster.standby_port(),
        "SELECT count(*) FROM events WHERE tenant_id = %s",
        ("org-failover",),
    )
    assert on_standby == [(3 * THIRD + 1,)]
    verify = cluster.verify()
    assert verify.returncode == 0, verify.stdout + verify.stderr
    print(  # noqa: T201 - the figures `make chaos` shows
        f"\n{3 * THIRD} events; no primary for {promoted[0] - killed:.1f} s (the test's own"
        f" pause); spool delivered {delivered - promoted[0]:.1f} s after the promotion"
    )
