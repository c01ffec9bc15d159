"""A publish served without FastAPI's machinery (kansa.server.publishing) answers exactly as
the FastAPI route does: every request of a corpus — accepted, duplicate and refused for every
reason — is sent to the app with the fast path and to the app without it, each on a tenant of
its own, and the status, the body, the headers, the request's log line and what it counted
must be the same. On every engine."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from kansa.access.keys import make_key
from kansa.server.app import create_app
from kansa.server.logs import fields_of
from kansa.server.publishing import FastPublish
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from kansa.timeutil import utcnow
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
    runtime = Runtime.from_settings(settings)
    runtime.start()
    try:
        with (
            TestClient(create_app(runtime=runtime)) as fast,
            TestClient(create_app(runtime=runtime, fast_publish=False)) as route,
        ):
            yield Both(runtime, fast, route)
    finally:
        runtime.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
    """The answer with what differs between two runs by design made alike: the tenant's id,
    the ids and hashes of receipts, the request id (its shape is checked)."""
    text = answer.text.replace(tenant, "TENANT")
    body: Any = orjson.loads(text) if text.startswith(("{", "[")) else text
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        for receipt in body["events"]:
            receipt["id"], receipt["hash"] = "ID", "HASH"
    headers = dict(answer.headers)
    assert re.fullmatch(r"[0-9a-f]{32}", headers.pop("x-request-id"))
    assert int(headers.pop("content-length", len(answer.content))) == len(answer.content)
    if "location" in headers:
        headers["location"] = headers["location"].replace(tenant, "TENANT")
    return {"status": answer.status_code, "headers": headers, "body": body}


def counted(runtime: Runtime) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in runtime.metrics.registry.collect()
        for sample in family.samples
        if sample.name in COUNTED
    }


def run(
    client: TestClient, runtime: Runtime, send: Send_, caplog: pytest.LogCaptureFixture
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[Any, float]]:
    """The answers, the log lines and the counts of ``send`` on a new tenant."""
    tenant = new_tenant()
    before = counted(runtime)
    caplog.clear()
    answers = [comparable(a, tenant) for a in send(client, runtime, tenant)]
    lines = [
        {k: v for k, v in fields_of(r).items() if k not in ("ms", "request_id")}
        | {"path": str(fields_of(r)["path"]).replace(tenant, "TENANT")}
        for r in caplog.records
        if r.name == "kansa.request"
    ]
    after = counted(runtime)
    moved = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
    return answers, lines, moved


@pytest.mark.parametrize("case", CORPUS)
def test_the_fast_path_answers_as_the_route_does(
    both: Both, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kansa.request")
    fast = run(both.fast, both.runtime, CORPUS[case], caplog)
    route = run(both.route, both.runtime, CORPUS[case], caplog)
    assert fast[0] == route[0]
    assert fast[1] == route[1] and len(fast[1]) == len(fast[0])
    assert fast[2] == route[2]


def test_the_corpus_holds_every_answer_a_publish_can_get(
    both: Both, caplog: pytest.LogCaptureFixture
) -> None:
    """The corpus above is worth comparing: it meets every status of a publish but the
    503 (tests/api/test_errors.py takes the database away for that)."""
    statuses = {
        answer["status"]
        for send in CORPUS.values()
        for answer in run(both.fast, both.runtime, send, caplog)[0]
    }
    assert {200, 201, 400, 401, 403, 413, 415, 422, 429} <= statuses


async def unreachable(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError(f"handed on: {scope['method']} {scope['path']}?{scope['query_string']!r}")


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
