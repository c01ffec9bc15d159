"""``/api/v1/destinations`` and ``GET /api/v1/stream`` through the real app, on both engines:
destinations configured as code within what a key may touch, their secret never shown back
nor stored in the clear, and the pull twin's pages proved with ``kansa verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kansa.cli import app
from kansa.store import Store
from kansa.streaming.destinations import webhook_secret
from tests.helpers import new_key, pca_event
from tests.net import free_port
from tests.raw import execute
from tests.streaming.receivers import webhook_receiver

MANAGE = frozenset({"publish", "read", "admin"})


@pytest.fixture
def api_key(store: Store) -> str:
    """The unbound key of these tests: it may change destinations (``admin``) as well."""
    return new_key(store, scopes=MANAGE)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _webhook(url: str, **more: Any) -> dict[str, Any]:
    return {"name": "siem", "kind": "webhook", "config": {"url": url}, **more}


def _publish(client: TestClient, auth: dict[str, str], tenant: str, count: int) -> None:
    events = [pca_event(tenant, n, id=f"evt-{n}") for n in range(1, count + 1)]
    answer = client.post("/api/v1/events", json={"events": events}, headers=auth)
    assert answer.status_code == 201, answer.text


def test_a_tenant_key_manages_its_own_destinations_and_never_sees_a_secret(
    client: TestClient, store: Store, store_url: str, auth: dict[str, str], tenant_id: str
) -> None:
    _publish(client, auth, tenant_id, 1)
    reader = _bearer(new_key(store, tenant=tenant_id, scopes=frozenset({"read"})))
    refused = client.post(
        "/api/v1/destinations", json=_webhook("https://siem.example/in"), headers=reader
    )
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    own = _bearer(new_key(store, tenant=tenant_id, scopes=MANAGE))
    made = client.post(
        "/api/v1/destinations", json=_webhook("https://siem.example/in"), headers=own
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["tenant"] == tenant_id and body["secret"].startswith("whsec_")
    shown = client.get(f"/api/v1/destinations/{body['id']}", headers=own).json()
    assert shown["secret"] == "set" and shown["cursors"][0]["tenant"] == tenant_id
    (sealed,) = execute(store_url, "SELECT secret FROM destinations WHERE id = ?", body["id"])[0]
    assert body["secret"].encode() not in bytes(sealed)
    listed = client.get("/api/v1/destinations", headers=own).json()["destinations"]
    assert [d["id"] for d in listed] == [body["id"]]
    _publish(client, auth, f"{tenant_id}-other", 1)
    other = _bearer(new_key(store, tenant=f"{tenant_id}-other", scopes=MANAGE))
    assert client.get(f"/api/v1/destinations/{body['id']}", headers=other).status_code == 404
    foreign = client.post(
        "/api/v1/destinations", json=_webhook("https://x.example", tenant=tenant_id), headers=other
    )
    assert foreign.status_code == 403
    paused = client.post(f"/api/v1/destinations/{body['id']}/pause", headers=own).json()
    assert paused["paused"] is True
    resumed = client.post(f"/api/v1/destinations/{body['id']}/resume", headers=own).json()
    assert resumed["paused"] is False
    rewound = client.post(
        f"/api/v1/destinations/{body['id']}/rewind",
        json={"tenant": tenant_id, "seq": 0},
        headers=own,
    ).json()
    assert rewound["cursors"][0]["delivered_seq"] == 0 and rewound["lag_events"] == 1
    assert client.delete(f"/api/v1/destinations/{body['id']}", headers=own).status_code == 200
    assert client.get(f"/api/v1/destinations/{body['id']}", headers=own).status_code == 404


def test_a_wrong_destination_is_refused_naming_each_field(
    client: TestClient, auth: dict[str, str], tenant_id: str
) -> None:
    _publish(client, auth, tenant_id, 1)
    wrong = {
        "name": "siem",
        "kind": "webhook",
        "config": {"url": "ftp://x", "batch_size": 0, "colour": "red"},
        "filter": {"levels": ["loud"]},
        "tenant": tenant_id,
    }
    answer = client.post("/api/v1/destinations", json=wrong, headers=auth)
    assert answer.status_code == 422
    paths = {p["path"] for p in answer.json()["problems"]}
    assert paths == {"config.url", "config.batch_size", "config.colour", "filter.levels"}
    kinds = client.post(
        "/api/v1/destinations", json={"name": "x", "kind": "pigeon"}, headers=auth
    ).json()
    assert "webhook, nats, s3" in kinds["problems"][0]["message"]
    rewind = client.post(
        "/api/v1/destinations/dst_none/rewind", json={"tenant": tenant_id, "seq": -1}, headers=auth
    )
    assert rewind.status_code == 422


def test_test_reaches_the_receiver_or_says_why_not(
    client: TestClient, auth: dict[str, str], tenant_id: str
) -> None:
    _publish(client, auth, tenant_id, 1)
    secret = webhook_secret()
    with webhook_receiver(secret) as receiver:
        made = client.post(
            "/api/v1/destinations",
            json=_webhook(receiver.url, secret=secret, tenant=tenant_id),
            headers=auth,
        ).json()
        assert "secret" in made and made["secret"] == "set"
        tested = client.post(f"/api/v1/destinations/{made['id']}/test", headers=auth).json()
        assert tested == {"id": made["id"], "ok": True, "problem": None}
        assert receiver.tests == 1 and receiver.bad_signatures == 0
    down = client.post(
        "/api/v1/destinations",
        json=_webhook(f"http://127.0.0.1:{free_port()}/", tenant=tenant_id),
        headers=auth,
    ).json()
    tested = client.post(f"/api/v1/destinations/{down['id']}/test", headers=auth).json()
    assert tested["ok"] is False and "unreachable" in tested["problem"]
    for made_id in (made["id"], down["id"]):
        client.delete(f"/api/v1/destinations/{made_id}", headers=auth)


def test_the_pull_twin_pages_with_link_and_its_pages_verify(
    client: TestClient, store_url: str, auth: dict[str, str], tenant_id: str, tmp_path: Path
) -> None:
    _publish(client, auth, tenant_id, 12)
    folder = tmp_path / "pulled"
    folder.mkdir()
    url = f"/api/v1/stream?tenant={tenant_id}&after_seq=0&limit=5"
    pages = 0
    while True:
        answer = client.get(url, headers=auth)
        url = answer.links["next"]["url"]
        if answer.status_code == 204:
            break
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        (folder / f"{pages}.jsonl").write_bytes(answer.content)
        pages += 1
    assert pages == 3 and url.endswith("after_seq=12&limit=5")
    verified = CliRunner().invoke(app, ["verify", str(folder), "--db", store_url])
    assert verified.exit_code == 0, verified.output
    assert f"tenant {tenant_id}: seq 1-12, 12 events in 3 batches" in verified.output
    late = client.get(f"/api/v1/stream?tenant={tenant_id}&after_seq=-1", headers=auth)
    assert late.status_code == 422 or late.status_code == 400


HOSTILE: list[Any] = [
    {"name": "a", "kind": "webhook", "config": {"url": "http://x:99999/"}},
    {"name": "a", "kind": "webhook", "config": "http://x/"},
    {"name": "a", "kind": "webhook", "config": {"url": "http://x/", "batch_size": True}},
    {"name": "a", "kind": "webhook", "config": {"url": "http://x/"}, "secret": "not-whsec"},
    {"name": "a", "kind": "webhook", "config": {"url": "http://x/"}, "filter": ["x"]},
    {"name": "a", "kind": "nats", "config": {"url": "https://x/", "subject_prefix": "a.>"}},
    {"name": "a", "kind": "syslog", "config": {"host": "x", "port": -1, "ca_pem": "junk"}},
    {"name": "a", "kind": "s3", "config": {"bucket": 7, "endpoint_url": "ftp://x"}},
    {"name": "a", "kind": "hec", "config": {"url": "http://x/", "ack": "yes"}},
    {"name": "a b", "kind": "otlp", "config": {"url": "http://x/v1/logs", "timeout": 0}},
    {"name": "a", "kind": "webhook", "config": {"url": "http://x/"}, "start": "yesterday"},
    {"name": "a", "kind": "webhook", "config": {"url": "http://x/"}, "colour": "red"},
]


def test_no_destination_a_client_sends_is_a_5xx(
    client: TestClient, auth: dict[str, str], tenant_id: str
) -> None:
    _publish(client, auth, tenant_id, 1)
    for body in HOSTILE:
        answer = client.post(
            "/api/v1/destinations", json={**body, "tenant": tenant_id}, headers=auth
        )
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["problems"], body
