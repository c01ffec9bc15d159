"""API keys and passwords never leave kansa: not in any log record (every logger, at DEBUG),
not in what a real ``kansa serve`` writes to stderr, not in any answer — a 401, a 403, a 422
on an event, a failed console sign-in page — whatever goes right or wrong.

The whole suite is also watched (tests/conftest.py, ``secrets_stay_out_of_logs``): a log
record anywhere that holds something shaped like a kansa API key fails it."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable

import httpx
import pytest
from fastapi.testclient import TestClient

from kansa.store import Store, open_store
from tests.helpers import new_key, password_hash, pca_event
from tests.served import Served, edge

__all__ = ["edge"]


def secret_parts(key: str) -> list[str]:
    """The key and its secret half: neither may appear."""
    return [key, key.split("_", 2)[2]]  # kansa_<id>_<secret>: the secret may hold "_"


def assert_nowhere(secrets: Iterable[str], texts: Iterable[str]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked into: {text[:300]!r}"


def answers(replies: Iterable[httpx.Response]) -> list[str]:
    """Everything a client got back: body and headers."""
    return [r.text + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items()) for r in replies]


def exercise(
    http: httpx.Client | TestClient, key: str, read_only: str, tenant: str, password: str
) -> list[httpx.Response]:
    """Publish, read and sign in — succeeding and failing in every way a client can."""
    auth = {"Authorization": f"Bearer {key}"}
    replies = [
        http.post("/api/v1/events", json=pca_event(tenant), headers=auth),
        http.post("/api/v1/events", json={"events": [{"tenant": tenant}]}, headers=auth),
        http.post(
            "/api/v1/events",
            content=b"{not json",
            headers=auth | {"content-type": "application/json"},
        ),
        http.post(
            "/api/v1/events", json=pca_event(tenant), headers={"Authorization": f"Bearer {key}x"}
        ),
        http.post("/api/v1/events", json=pca_event(tenant), headers={"Authorization": key}),
        http.post(
            "/api/v1/events",
            json=pca_event(tenant),
            headers={"Authorization": f"Bearer {read_only}"},
        ),
        http.get("/api/v1/events", params={"tenant": "elsewhere"}, headers=auth),
    ]
    for attempt in (password + "!", password, password + "?", password):
        page = http.get("/console/signin")
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert nonce is not None
        form = {"tenant": tenant, "login": "admin", "password": attempt, "csrf": nonce.group(1)}
        replies.append(http.post("/console/signin", data=form, follow_redirects=False))
        http.cookies.clear()
    statuses = [r.status_code for r in replies]
    assert statuses[:7] == [201, 422, 400, 401, 401, 403, 404]
    assert statuses[7:] == [401, 303, 401, 303]
    return replies


def account(store: Store, tenant: str, password: str) -> None:
    store.create_tenant(tenant, name="秘密", layout="pca-id", tz="Asia/Tokyo", lang="ja")
    store.create_account(
        tenant, "admin", name="管理者", role="admin", password_hash=password_hash(password)
    )


def test_no_log_record_and_no_answer_holds_a_key_or_password(
    client: TestClient, store: Store, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger and so every logger
    password = f"pw-{uuid.uuid4().hex}"
    account(store, tenant_id, password)
    key = new_key(store)
    read_only = new_key(store, scopes=frozenset({"read"}))
    replies = exercise(client, key, read_only, tenant_id, password)
    logged = [caplog.text, *(str(r.__dict__) for r in caplog.records)]
    assert_nowhere(
        [*secret_parts(key), *secret_parts(read_only), password], [*logged, *answers(replies)]
    )
    # the failed sign-in page keeps the login, never the password
    assert 'value="admin"' in replies[7].text and "password" in replies[7].text


def test_a_served_kansa_writes_no_secret_to_stderr(edge: Served) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    password = f"pw-{uuid.uuid4().hex}"
    store = open_store(edge.url)
    try:
        account(store, tenant, password)
        key, read_only = new_key(store), new_key(store, scopes=frozenset({"read"}))
    finally:
        store.close()
    with edge.client("127.0.0.5") as http:
        replies = exercise(http, key, read_only, tenant, password)
    stderr = edge.stderr.read_text(errors="replace")
    assert_nowhere(
        [*secret_parts(key), *secret_parts(read_only), password], [stderr, *answers(replies)]
    )
