"""Two ``kansa serve`` processes on one database, of either engine: a key revoked by the
command line, and a tenant retired, are refused by both within a second — neither waits
for its key cache (kept for an hour here) to expire."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kansa.store import open_store
from tests.helpers import new_key, pca_event
from tests.served import KANSA, Served, serve

CACHE = {"KANSA_KEY_CACHE_SECONDS": "3600", "KANSA_RATE_LIMIT_PER_SECOND": "0"}


def kansa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KANSA, *args], capture_output=True, text=True, timeout=60, check=False)


def refused_within(servers: list[Served], attempt: Callable[[httpx.Client, int], int]) -> float:
    """Seconds until ``attempt`` (a request's status) is refused by every server."""
    started = time.monotonic()
    pending = list(servers)
    tries = 0
    while pending:
        tries += 1
        for server in list(pending):
            with server.client() as http:
                if attempt(http, tries) in (401, 422):
                    pending.remove(server)
        assert time.monotonic() - started < 5, "still accepted after 5 seconds"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.mark.slow
def test_a_revoked_key_and_a_retired_tenant_are_refused_by_every_server_within_a_second(
    fresh_url: str, tmp_path: Path, tenant_id: str
) -> None:
    store = open_store(fresh_url)
    try:
        token = new_key(store, scopes=frozenset({"publish"}))
    finally:
        store.close()
    headers = {"Authorization": f"Bearer {token}"}
    with serve(fresh_url, tmp_path, CACHE) as one, serve(fresh_url, tmp_path, CACHE) as two:
        servers = [one, two]

        def publish(http: httpx.Client, n: int) -> int:
            event = pca_event(tenant_id, n, id=f"evt-{http.base_url.port}-{n}")
            return http.post("/api/v1/events", json=event, headers=headers).status_code

        for server in servers:  # the key is checked, then cached, by both
            with server.client() as http:
                assert publish(http, 0) == 201
                assert publish(http, 0) == 200  # a duplicate: the key came from the cache

        retired = kansa("tenant", "retire", tenant_id, "--reason", "typo", "--db", fresh_url)
        assert retired.returncode == 0, retired.stderr
        assert refused_within(servers, publish) < 1.0

        other = tenant_id + "-other"

        def publish_other(http: httpx.Client, n: int) -> int:
            event = pca_event(other, n, id=f"evt-{http.base_url.port}-{n}")
            return http.post("/api/v1/events", json=event, headers=headers).status_code

        key_id = token.split("_")[1]
        revoked = kansa("apikey", "revoke", key_id, "--db", fresh_url)
        assert revoked.returncode == 0, revoked.stderr
        assert refused_within(servers, publish_other) < 1.0
