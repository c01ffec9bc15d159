"""A publish served without FastAPI's machinery (kansa.server.publishing) answers exactly as
the FastAPI route does: every request of a corpus — accepted, duplicate and refused for every
reason — is sent to the app with the fast path and to the app without it, each on a tenant of
its own, and the status, the body, the headers, the request's log line and what it counted
must be the same. On every engine."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from kansa.access.keys import make_key
from kansa.server.app import create_app
from kansa.server.publishing import FastPublish
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from kansa.timeutil import utcnow
from tests.api.alike import (
    Seen,
    answer_of,
    assert_alike,
    bearer,
    seen,
    two_apps,
    unreachable,
)
from tests.helpers import new_key, pca_event

URL = "/api/v1/events"
LIMIT = 4096
"""KANSA_MAX_BODY_BYTES of these apps: a valid batch fits, a body over it is easy to make."""
BURST = 3
"""KANSA_RATE_LIMIT_BURST of these apps (at a rate of one request in 1,000 s): a key's fourth
request is refused."""
COUNTED = (
    "kansa_requests_total",
    "kansa_request_seconds_count",
    "kansa_publish_refused_total",
    "kansa_events_accepted_total",
    "kansa_events_duplicate_total",
    "kansa_store_errors_total",
)


@dataclass
class Both:
    runtime: Runtime
    fast: TestClient
    route: TestClient


@pytest.fixture(scope="module")
def both(store_url: str) -> Iterator[Both]:
    """One runtime and its two apps for the module's tests on an engine: each case runs on a
    tenant and keys of its own, and compares the counts it moved."""
    settings = Settings(
        database_url=store_url,
        max_body_bytes=LIMIT,
        rate_limit_per_second=0.001,
        rate_limit_burst=BURST,
    )
    with two_apps(settings, "fast_publish") as (runtime, fast, route):
        yield Both(runtime, fast, route)


Send_ = Callable[[TestClient, Runtime, str], list[httpx.Response]]


def single(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    return [client.post(URL, json=pca_event(tenant), headers=bearer(new_key(rt.store)))]


def batch(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    events = {"events": [pca_event(tenant, n) for n in (1, 2, 3)]}
    return [client.post(URL, json=events, headers=bearer(new_key(rt.store)))]


def duplicates(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    auth = bearer(new_key(rt.store))
    mixed = {"events": [pca_event(tenant, 1), pca_event(tenant, 2)]}
    return [
        client.post(URL, json=pca_event(tenant), headers=auth),
        client.post(URL, json=pca_event(tenant), headers=auth),
        client.post(URL, json=mixed, headers=auth),
        client.post(URL, json=mixed, headers=auth),
    ]


def raw(body: bytes, content_type: str | None = "application/json") -> Send_:
    def send(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
        headers = bearer(new_key(rt.store))
        if content_type is not None:
            headers["Content-Type"] = content_type
        content = body.replace(b"TENANT", tenant.encode())
        return [client.post(URL, content=content, headers=headers)]

    return send


EVENT = orjson.dumps(pca_event("TENANT"))


def chunked(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    """A body without a Content-Length, counted as it comes: under the limit, then over."""
    auth = bearer(new_key(rt.store)) | {"Content-Type": "application/json"}
    event = orjson.dumps(pca_event(tenant))
    return [
        client.post(URL, content=iter([event[:100], event[100:]]), headers=auth),
        client.post(URL, content=iter([b" " * LIMIT, event]), headers=auth),
    ]


def credentials(*given: dict[str, str]) -> Send_:
    def send(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
        return [client.post(URL, json=pca_event(tenant), headers=h) for h in given]

    return send


def unknown_key(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    return credentials(bearer(make_key().token))(client, rt, tenant)


def read_only_key(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    key = new_key(rt.store, scopes=frozenset({"read"}))
    return credentials(bearer(key))(client, rt, tenant)


def other_tenants_key(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    rt.store.create_tenant(tenant + "x", name=None, layout="pca-id", tz="UTC", lang="ja")
    key = new_key(rt.store, tenant=tenant + "x")
    return credentials(bearer(key))(client, rt, tenant)


def query(suffix: str) -> Send_:
    def send(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
        auth = bearer(new_key(rt.store))
        return [client.post(URL + suffix, json=pca_event(tenant), headers=auth)]

    return send


def rate_limited(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    auth = bearer(new_key(rt.store))
    return [client.post(URL, json=pca_event(tenant, n), headers=auth) for n in range(BURST + 1)]


def retired(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    rt.store.create_tenant(tenant, name=None, layout="pca-id", tz="UTC", lang="ja")
    rt.store.retire_tenant(tenant, "closed", at=utcnow(), record=None)
    rt.forget_retired()
    return single(client, rt, tenant)


def invalid(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    events = [
        pca_event(tenant, 1),
        pca_event(tenant, 2, action="user.creat"),
        pca_event(tenant, 3, actor={"name": "名無し"}),
    ]
    auth = bearer(new_key(rt.store))
    return [
        client.post(URL, json={"events": events}, headers=auth),
        client.post(URL, json=pca_event(tenant, occurred_at="yesterday"), headers=auth),
    ]


def other_routes(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    auth = bearer(new_key(rt.store))
    return [
        client.get(URL, params={"tenant": tenant}, headers=auth),
        client.put(URL, json=pca_event(tenant), headers=auth),
        client.post(URL + "/", json=pca_event(tenant), headers=auth, follow_redirects=False),
    ]


CORPUS: dict[str, Send_] = {
    "one event": single,
    "a batch": batch,
    "duplicates": duplicates,
    "json with a charset": raw(EVENT, "application/json; charset=utf-8"),
    "a +json type": raw(EVENT, "application/vnd.kansa+json"),
    "bad json": raw(b'{"id": "x",'),
    "an empty body": raw(b""),
    "not an object": raw(b"[1, 2]"),
    "a batch with more": raw(b'{"events": [], "more": 1}'),
    "an empty batch": raw(b'{"events": []}'),
    "text": raw(EVENT, "text/plain"),
    "no content type": raw(EVENT, None),
    "a body over the limit": raw(b"[" + b" " * LIMIT + b"]"),
    "a chunked body": chunked,
    "no key": credentials({}),
    "not bearer": credentials({"Authorization": "Basic dXNlcjpwYXNz"}),
    "a malformed key": credentials(bearer("nope")),
    "an unknown key": unknown_key,
    "a key without publish": read_only_key,
    "a key of another tenant": other_tenants_key,
    "a NUL in the query": query("?tenant=%00"),
    "a query": query("?pretty=1"),
    "rate limited": rate_limited,
    "a retired tenant": retired,
    "invalid events": invalid,
    "other methods and paths": other_routes,
}


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def comparable(answer: httpx.Response, tenant: str) -> dict[str, Any]:
    """As :func:`answer_of`, with the ids and hashes of receipts made alike too."""
    made = answer_of(answer, tenant)
    body = made["body"]
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        for receipt in body["events"]:
            receipt["id"], receipt["hash"] = "ID", "HASH"
    return made


def run(
    client: TestClient, runtime: Runtime, send: Send_, caplog: pytest.LogCaptureFixture
) -> Seen:
    """The answers, the log lines and the counts of ``send`` on a new tenant."""
    tenant = new_tenant()
    return seen(runtime, COUNTED, caplog, tenant, lambda: send(client, runtime, tenant), comparable)


@pytest.mark.parametrize("case", CORPUS)
def test_the_fast_path_answers_as_the_route_does(
    both: Both, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kansa.request")
    assert_alike(
        run(both.fast, both.runtime, CORPUS[case], caplog),
        run(both.route, both.runtime, CORPUS[case], caplog),
    )


def test_the_corpus_holds_every_answer_a_publish_can_get(
    both: Both, caplog: pytest.LogCaptureFixture
) -> None:
    """The corpus above is worth comparing: it meets every status of a publish but the
    503 (tests/api/test_errors.py takes the database away for that)."""
    statuses = {
        answer["status"]
        for send in CORPUS.values()
        for answer in run(both.fast, both.runtime, send, caplog).answers
    }
    assert {200, 201, 400, 401, 403, 413, 415, 422, 429} <= statuses


def test_a_plain_publish_never_reaches_the_app_and_anything_else_does(
    runtime: Runtime, api_key: str, tenant_id: str
) -> None:
    app = create_app(runtime=runtime)
    route = next(r for r in app.routes if getattr(r, "path", None) == URL)
    client = TestClient(FastPublish(unreachable, runtime, None, route))  # no lifespan
    answer = client.post(URL, json=pca_event(tenant_id), headers=bearer(api_key))
    assert answer.status_code == 201 and answer.json()["accepted"] == 1
    refused = client.post(URL, content=b"{", headers=bearer(api_key))
    assert refused.status_code == 415  # refusals too are answered by the fast path
    handed_on: list[Callable[[], httpx.Response]] = [
        lambda: client.post(URL + "?x=1", json=pca_event(tenant_id), headers=bearer(api_key)),
        lambda: client.get(URL, headers=bearer(api_key)),
        lambda: client.post(URL, content=iter([b"{}"]), headers=bearer(api_key)),
        lambda: client.post(
            URL, content=b"{" * (runtime.settings.max_body_bytes + 1), headers=bearer(api_key)
        ),
    ]
    for request in handed_on:
        with pytest.raises(AssertionError, match="handed on"):
            request()
