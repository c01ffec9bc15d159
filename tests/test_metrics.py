"""What kansa counts, read back as Prometheus text from a real app on either engine: events
stored, duplicate and refused (by reason), requests by route template, the writer's batches,
store errors, sign-ins and lockouts, the background jobs, and the tenants' gauges read from
the store at scrape time (capped)."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from kansa.server.jobs import Jobs
from kansa.server.metrics import MetricsServer, exposed
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import new_key, password_hash, pca_event


def scrape(runtime: Runtime, limit: int = 1000) -> str:
    registry = exposed(runtime.metrics.registry, runtime.metrics.jobs, runtime.store, limit)
    return generate_latest(registry).decode()


def value(text: str, series: str) -> float:
    """The value of one series (``name{labels}``) in exposition text; 0 when absent."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_publishing_is_counted_by_outcome(
    client: TestClient, runtime: Runtime, auth: dict[str, str], tenant_id: str
) -> None:
    batch = {"events": [pca_event(tenant_id, n) for n in range(3)]}
    assert client.post("/api/v1/events", json=batch, headers=auth).status_code == 201
    assert (
        client.post("/api/v1/events", json=pca_event(tenant_id, 1), headers=auth).status_code == 200
    )
    assert client.post("/api/v1/events", json={"events": [{}]}, headers=auth).status_code == 422
    assert client.post("/api/v1/events", json=pca_event(tenant_id)).status_code == 401
    text = scrape(runtime)
    assert value(text, "kansa_events_accepted_total") == 3
    assert value(text, "kansa_events_duplicate_total") == 1
    assert value(text, 'kansa_publish_refused_total{reason="invalid"}') == 1
    assert value(text, 'kansa_publish_refused_total{reason="unauthenticated"}') == 1
    assert value(text, "kansa_writer_commit_events_count") >= 2
    assert value(text, "kansa_writer_commit_events_sum") >= 4
    assert value(text, "kansa_writer_queue_depth") == 0
    assert value(text, f'kansa_chain_head_seq{{tenant="{tenant_id}"}}') == 3
    assert value(text, "kansa_tenants") >= 1


def test_latency_is_by_route_template_never_by_raw_path(
    client: TestClient, runtime: Runtime, auth: dict[str, str], tenant_id: str
) -> None:
    for _ in range(3):
        client.get(
            f"/api/v1/events/evt-{uuid.uuid4().hex}", params={"tenant": tenant_id}, headers=auth
        )
    client.get(f"/no/such/{uuid.uuid4().hex}")
    text = scrape(runtime)
    routes = set(re.findall(r'kansa_request_seconds_count\{method="GET",route="([^"]*)"\}', text))
    assert "/api/v1/events/{event_id}" in routes and "unmatched" in routes
    assert not [r for r in routes if "evt-" in r or "/no/such" in r]


def test_sign_ins_and_lockouts_are_counted(
    client: TestClient, runtime: Runtime, store: Store, tenant_id: str
) -> None:
    store.create_tenant(tenant_id, name="t", layout="pca-id", tz="Asia/Tokyo", lang="ja")
    store.create_account(
        tenant_id, "admin", name="Admin", role="admin", password_hash=password_hash("right-horse-9")
    )
    max_failures = runtime.settings.signin_max_failures
    for attempt in ["wrong"] * (max_failures + 1):
        page = client.get("/console/signin")
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert nonce is not None
        form = {"tenant": tenant_id, "login": "admin", "password": attempt, "csrf": nonce.group(1)}
        client.post("/console/signin", data=form, follow_redirects=False)
    text = scrape(runtime)
    assert value(text, 'kansa_console_signins_total{outcome="failure"}') >= max_failures + 1
    assert value(text, "kansa_console_lockouts_total") >= 2  # the locking attempt, and the next


def test_jobs_count_checkpoints_and_the_tenant_gauges_follow(
    runtime: Runtime, client: TestClient, auth: dict[str, str], tenant_id: str
) -> None:
    assert client.post("/api/v1/events", json=pca_event(tenant_id), headers=auth).status_code == 201
    signed = Jobs(runtime).sign_due(utcnow())
    assert signed >= 1
    text = scrape(runtime)
    assert value(text, "kansa_checkpoints_signed_total") == signed
    assert 0 <= value(text, f'kansa_checkpoint_age_seconds{{tenant="{tenant_id}"}}') < 60


def test_tenants_past_the_cap_get_no_series_of_their_own(runtime: Runtime, store: Store) -> None:
    for n in range(3):
        store.create_tenant(
            f"cap-{uuid.uuid4().hex[:8]}-{n}", name="t", layout=None, tz="UTC", lang="en"
        )
    text = scrape(runtime, limit=2)
    assert len(re.findall(r"^kansa_chain_head_seq\{", text, re.M)) == 2
    assert value(text, "kansa_tenants") >= 3


def test_metrics_are_served_on_their_own_address(runtime: Runtime) -> None:
    registry = exposed(runtime.metrics.registry, None, runtime.store, 10)
    server = MetricsServer.start("127.0.0.1:0", registry)
    try:
        answer = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    finally:
        server.stop()
    assert answer.status_code == 200 and "kansa_requests_total" in answer.text


def test_the_api_port_has_no_metrics(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_each_app_counts_on_its_own() -> None:
    """Two runtimes in one process (tests, benchmarks) do not share counts."""
    from kansa.server.metrics import Metrics

    one, two = Metrics(CollectorRegistry()), Metrics()
    one.events_accepted.inc(5)
    assert "kansa_events_accepted_total 0.0" in generate_latest(two.registry).decode()


def test_each_destination_shows_its_lag_and_whether_it_is_degraded(
    runtime: Runtime, client: TestClient, auth: dict[str, str], tenant_id: str
) -> None:
    for n in range(1, 4):
        client.post("/api/v1/events", json=pca_event(tenant_id, n, id=f"e{n}"), headers=auth)
    manager = {"Authorization": f"Bearer {new_key(runtime.store, scopes=frozenset({'admin'}))}"}
    made = client.post(
        "/api/v1/destinations",
        json={
            "name": "lagging",
            "kind": "webhook",
            "config": {"url": "http://127.0.0.1:9/"},
            "start": "beginning",
            "tenant": tenant_id,
        },
        headers=manager,
    ).json()
    client.post(f"/api/v1/destinations/{made['id']}/pause", headers=manager)
    text = scrape(runtime)
    labels = f'{{destination="{made["id"]}",kind="webhook",name="lagging"}}'
    assert value(text, f"kansa_destination_lag_events{labels}") == 3
    assert value(text, f"kansa_destination_lag_seconds{labels}") > 0
    assert f"kansa_destination_degraded{labels} 0.0" in text
    client.delete(f"/api/v1/destinations/{made['id']}", headers=manager)
