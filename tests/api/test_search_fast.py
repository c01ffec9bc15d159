"""A search served without FastAPI's machinery (kansa.server.searching) answers exactly as the
FastAPI route does: every request of a corpus — found, paged, filtered, and refused for every
reason — is sent to the app with the fast path and to the app without it, each on a tenant of
its own holding the same events, and the status, the body, the headers, the request's log
line and what it counted must be the same. On every engine."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from kansa.access.keys import make_key
from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.records import TenantChanges
from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.server.searching import MANY, ONCE, FastSearch
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
from tests.helpers import new_key, viewer_token

URL = "/api/v1/events"
APP = "KDDI Business ID"
BURST = 3
"""KANSA_RATE_LIMIT_BURST of these apps (at a rate of one request in 1,000 s): a credential's
fourth request is refused."""
COUNTED = (
    "kansa_requests_total",
    "kansa_request_seconds_count",
    "kansa_store_errors_total",
    "kansa_events_accepted_total",
)
NOW = utcnow()
"""The events of every tenant occurred at the same times, before this."""
ACTORS = [
    {"id": "u-ichiro", "name": "飯田橋 一郎", "login": "ichiro"},
    {"id": "u-jiro", "name": "飯田橋 二郎", "login": "jiro"},
]
ACTIONS = [
    ("login.password", "success", {"os": "Windows"}),
    ("login.failed.password", "failure", {}),
    ("user.add", "done", {}),
    ("provision.user.create", "ng", {"service": "Google Workspace", "reason": "ライセンス不足"}),
]


def _events(tenant: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"e{n}",
            "tenant": {"id": tenant, "name": "ひかり物流"},
            "app": APP,
            "action": action,
            "result": result,
            "actor": ACTORS[n % 2],
            "occurred_at": (NOW - timedelta(hours=n)).isoformat(),
            "ip": f"203.0.113.{n % 5}",
            "params": params,
            "targets": [{"type": "user", "id": "jiro", "name": "飯田橋 二郎"}],
        }
        for n, (action, result, params) in enumerate(ACTIONS * 3, start=1)
    ]


@dataclass
class Both:
    runtime: Runtime
    catalog: Catalog
    fast: TestClient
    route: TestClient


@pytest.fixture(scope="module")
def both(store_url: str, catalog: Catalog) -> Iterator[Both]:
    """One runtime and its two apps for the module's tests on an engine: each case runs on
    tenants and keys of its own, and compares the counts it moved."""
    settings = Settings(database_url=store_url, rate_limit_per_second=0.001, rate_limit_burst=BURST)
    with two_apps(settings, "fast_search") as (runtime, fast, route):
        yield Both(runtime, catalog, fast, route)


def read_key(rt: Runtime, tenant: str | None = None) -> dict[str, str]:
    return bearer(new_key(rt.store, app=APP, tenant=tenant, scopes=frozenset({"read"})))


Send_ = Callable[[TestClient, Runtime, str], list[httpx.Response]]


def searches(*queries: str, one_key: bool = False) -> Send_:
    """GET ``URL?<query>`` for each query (``TENANT`` made the tenant's id), each with a read
    key of its own (under the rate limit), or all with one."""

    def send(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
        shared = read_key(rt)
        return [
            client.get(
                f"{URL}?{query.replace('TENANT', tenant)}",
                headers=shared if one_key else read_key(rt),
            )
            for query in queries
        ]

    return send


def paged(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    """Page after page of two, following next_cursor, newest first and oldest first."""
    answers = []
    for order in ("desc", "asc"):
        query: dict[str, Any] = {"tenant": tenant, "limit": 2, "order": order}
        while True:
            answer = client.get(URL, params=query, headers=read_key(rt))
            answers.append(answer)
            cursor = answer.json().get("next_cursor")
            if answer.status_code != 200 or not cursor or len(answers) > 20:
                break
            query["cursor"] = cursor
    return answers


def viewer(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    """A general user's own history with a viewer token: their tenant by default, or named;
    another tenant refused; an expired token refused."""
    token = bearer(viewer_token(rt, tenant).token)
    expired = bearer(viewer_token(rt, tenant, ttl=1, now=utcnow() - timedelta(hours=1)).token)
    return [
        client.get(URL, headers=token),
        client.get(URL, params={"tenant": tenant, "q": "ichiro"}, headers=token),
        client.get(URL, params={"tenant": tenant + "x"}, headers=token),
        client.get(URL, params={"tenant": tenant}, headers=expired),
    ]


def recorded(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    """A tenant that records its searches: each search is itself an event."""
    rt.store.update_tenant(tenant, TenantChanges(record_searches=True))
    return searches("tenant=TENANT&q=jiro", "tenant=TENANT", "tenant=TENANT&action=log.search")(
        client, rt, tenant
    )


def credentials(*given: dict[str, str]) -> Send_:
    def send(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
        return [client.get(URL, params={"tenant": tenant}, headers=h) for h in given]

    return send


def publish_only_key(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    key = new_key(rt.store, app=APP, scopes=frozenset({"publish"}))
    return credentials(bearer(key))(client, rt, tenant)


def other_tenants_key(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    rt.store.create_tenant(tenant + "x", name=None, layout="kddi-business-id", tz="UTC", lang="ja")
    return credentials(read_key(rt, tenant + "x"))(client, rt, tenant)


def rate_limited(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    return searches(*["tenant=TENANT"] * (BURST + 1), one_key=True)(client, rt, tenant)


def other_routes(client: TestClient, rt: Runtime, tenant: str) -> list[httpx.Response]:
    headers = read_key(rt)
    return [
        client.head(URL, params={"tenant": tenant}, headers=headers),
        client.get(URL + "/", params={"tenant": tenant}, headers=headers, follow_redirects=False),
        client.get(URL + "/e1", params={"tenant": tenant}, headers=headers),
    ]


CORPUS: dict[str, Send_] = {
    "a tenant's newest": searches("tenant=TENANT", "tenant=TENANT&limit=5&lang=en"),
    "every filter": searches(
        "tenant=TENANT&category=login&result=failure",
        "tenant=TENANT&category=login,user&category=provisioning",
        "tenant=TENANT&history=operation&level=info",
        "tenant=TENANT&level=warning",
        "tenant=TENANT&action=user.add&action=login.password",
        "tenant=TENANT&group=login",
        "tenant=TENANT&actor=飯田橋&ip=203.0.113.2",
        "tenant=TENANT&actor_id=u-jiro&target_id=jiro",
        "tenant=TENANT&target=二郎&service=Google+Workspace",
        "tenant=TENANT&category=&actor=&q=",
    ),
    "free text": searches(
        "tenant=TENANT&q=ichiro",
        "tenant=TENANT&q=%E3%83%A9%E3%82%A4%E3%82%BB%E3%83%B3%E3%82%B9",
        "tenant=TENANT&q=result:failure+jiro",
        "tenant=TENANT&q=ab",
        "tenant=TENANT&q=nosuchfield:x",
    ),
    "periods": searches(
        f"tenant=TENANT&from={(NOW - timedelta(days=1)).date()}",
        f"tenant=TENANT&from={(NOW - timedelta(hours=5)).isoformat().replace('+', '%2B')}",
        "tenant=TENANT&from=2000-01-01",
        "tenant=TENANT&from=yesterday",
        "tenant=TENANT&to=2001-01-01&from=2002-01-01",
    ),
    "sorting and limits": searches(
        "tenant=TENANT&sort=seq&order=asc",
        "tenant=TENANT&sort=nosuch",
        "tenant=TENANT&order=sideways",
        "tenant=TENANT&limit=0",
        "tenant=TENANT&limit=0050",
        "tenant=TENANT&limit=100000",
        "tenant=TENANT&limit=abc",
        "tenant=TENANT&limit=-1",
        "tenant=TENANT&limit=",
        "tenant=TENANT&lang=xx",
        "tenant=TENANT&cursor=nonsense",
    ),
    "too many values": searches("tenant=TENANT" + "&history=login" * 21),
    "paged": paged,
    "a viewer token": viewer,
    "searches recorded": recorded,
    "an unknown tenant": searches("tenant=nosuchtenant"),
    "no tenant": searches(""),
    "a parameter it does not take": searches("tenant=TENANT&pretty=1"),
    "a parameter twice": searches("tenant=TENANT&limit=2&limit=3", "tenant=TENANT&tenant=x"),
    "a NUL in the query": searches("tenant=TENANT&q=%00"),
    "no key": credentials({}),
    "not bearer": credentials({"Authorization": "Basic dXNlcjpwYXNz"}),
    "a malformed key": credentials(bearer("nope")),
    "an unknown key": credentials(bearer(make_key().token)),
    "a key without read": publish_only_key,
    "a key of another tenant": other_tenants_key,
    "rate limited": rate_limited,
    "other methods and paths": other_routes,
}


def new_tenant(rt: Runtime, catalog: Catalog) -> str:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    rt.store.create_tenant(
        tenant, name="ひかり物流", layout="kddi-business-id", tz="Asia/Tokyo", lang="ja"
    )
    rt.store.append(prepare(_events(tenant), catalog))
    return tenant


def comparable(answer: httpx.Response, tenant: str) -> dict[str, Any]:
    """As :func:`answer_of`, with the events' ids, hashes and times received made alike too,
    and of ``next_cursor`` only whether there is one."""
    made = answer_of(answer, tenant)
    body = made["body"]
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        for event in body["events"]:
            for name in ("id", "hash", "prev_hash", "received_at"):
                event[name] = name.upper()
        body["next_cursor"] = body.get("next_cursor") is not None
    return made


def run(both: Both, client: TestClient, send: Send_, caplog: pytest.LogCaptureFixture) -> Seen:
    """The answers, the log lines and the counts of ``send`` on a new tenant."""
    tenant = new_tenant(both.runtime, both.catalog)
    return seen(
        both.runtime,
        COUNTED,
        caplog,
        tenant,
        lambda: send(client, both.runtime, tenant),
        comparable,
    )


@pytest.mark.parametrize("case", CORPUS)
def test_the_fast_path_answers_as_the_route_does(
    both: Both, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kansa.request")
    assert_alike(
        run(both, both.fast, CORPUS[case], caplog), run(both, both.route, CORPUS[case], caplog)
    )


def test_the_corpus_holds_every_answer_a_search_can_get(
    both: Both, caplog: pytest.LogCaptureFixture
) -> None:
    """The corpus above is worth comparing: it meets every status of a search but the 503
    (tests/api/test_errors.py takes the database away for that)."""
    statuses = {
        answer["status"]
        for send in CORPUS.values()
        for answer in run(both, both.fast, send, caplog).answers
    }
    assert {200, 400, 401, 403, 404, 405, 429} <= statuses


def test_a_plain_search_never_reaches_the_app_and_anything_else_does(
    runtime: Runtime, catalog: Catalog
) -> None:
    app = create_app(runtime=runtime)
    route = next(r for r in app.routes if getattr(r, "path", None) == URL)
    fast = FastSearch(unreachable, runtime, None, route)

    async def with_app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app  # as Starlette gives every request its app
        await fast(scope, receive, send)

    client = TestClient(with_app)  # no lifespan
    tenant = new_tenant(runtime, catalog)
    headers = read_key(runtime)
    answer = client.get(URL, params={"tenant": tenant, "category": "login"}, headers=headers)
    assert answer.status_code == 200 and len(answer.json()["events"]) == 6
    refused = client.get(URL, params={"tenant": tenant, "from": "yesterday"}, headers=headers)
    assert refused.status_code == 400  # refusals too are answered by the fast path
    assert client.get(URL, params={"tenant": tenant}).status_code == 401
    handed_on: list[Callable[[], httpx.Response]] = [
        lambda: client.get(URL, params={"tenant": tenant, "x": "1"}, headers=headers),
        lambda: client.get(URL, params={"tenant": tenant, "limit": "a"}, headers=headers),
        lambda: client.get(URL + "?tenant=a&tenant=b", headers=headers),
        lambda: client.head(URL, params={"tenant": tenant}, headers=headers),
        lambda: client.post(URL, json={}, headers=headers),
        lambda: client.get(URL + "/e1", headers=headers),
    ]
    for request in handed_on:
        with pytest.raises(AssertionError, match="handed on"):
            request()


def test_the_fast_path_takes_the_parameters_the_route_takes(runtime: Runtime) -> None:
    """Its lists (MANY) and the rest (ONCE) are the route's query parameters as documented:
    a parameter added to the route goes to the route until the fast path takes it too."""
    document = create_app(runtime=runtime).openapi()
    parameters = document["paths"][URL]["get"]["parameters"]
    lists = {
        p["name"]
        for p in parameters
        if any(kind.get("type") == "array" for kind in p["schema"].get("anyOf", [p["schema"]]))
    }
    assert {p["name"] for p in parameters if p["in"] == "query"} == MANY | ONCE
    assert lists == MANY
