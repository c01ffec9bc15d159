"""The error contract at the HTTP edge, with the database really taken away: a database that
cannot be used now is a 503 with ``Retry-After`` (a JSON problem for the API, an HTML page
for the console), never a 500 and never a request that hangs; a cursor that does not fit its
sort is a 400 naming ``cursor``. On both engines.

How each database is taken away:

- ``sqlite-read-only``: the file lives on a tmpfs of its own, remounted read-only once
  kansa's connections are closed (the tests run as root, so file modes would stop nothing);
- ``sqlite-full``: the same tmpfs, filled to its last page by another file;
- ``postgresql-stopped``: a throwaway cluster made for the test, then stopped;
- ``postgresql-cut-off``: the test's own database on the shared server, closed to new
  connections (``ALLOW_CONNECTIONS false``) and its backends ended with
  ``pg_terminate_backend`` — nothing else on the server is touched.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient

from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from tests import pg
from tests.helpers import new_key, password_hash, pca_event
from tests.outage import cut_off, fill, mount, tmpfs

OUTAGES = ["sqlite-read-only", "sqlite-full", "postgresql-stopped", "postgresql-cut-off"]
PASSWORD = "correct horse battery staple"
CONNECT_TIMEOUT = 2
"""The PostgreSQL URLs' connect_timeout: how long a request waits for a pooled connection."""
SLOWEST = 15.0
"""Seconds any one answer may take with the database gone."""


@dataclass
class Site:
    """A running kansa (the real app, in process) with a tenant, a key, a signed-in console
    session and one event published while its database was still there."""

    client: TestClient
    runtime: Runtime
    auth: dict[str, str]
    tenant: str
    sent: int = 1

    def ask(self, method: str, url: str, **kwargs: Any) -> Any:
        started = time.monotonic()
        answer = self.client.request(method, url, follow_redirects=False, **kwargs)
        took = time.monotonic() - started
        assert took < SLOWEST, f"{method} {url} took {took:.1f} s"
        return answer

    def publish(self) -> Any:
        self.sent += 1
        event = pca_event(self.tenant, self.sent)
        return self.ask("POST", "/api/v1/events", json=event, headers=self.auth)

    def search(self) -> Any:
        return self.ask("GET", "/api/v1/events", params={"tenant": self.tenant}, headers=self.auth)

    def console(self) -> Any:
        return self.ask("GET", "/console/log")


@contextmanager
def running(url: str) -> Iterator[Site]:
    runtime = Runtime.from_settings(Settings(database_url=url))
    runtime.start()
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            tenant = "t-outage"
            runtime.store.create_tenant(tenant, name=None, layout="pca-id", tz="UTC", lang="ja")
            runtime.store.create_account(
                tenant, "admin", name="管理", role="admin", password_hash=password_hash(PASSWORD)
            )
            auth = {"Authorization": f"Bearer {new_key(runtime.store)}"}
            site = Site(client, runtime, auth, tenant)
            published = client.post("/api/v1/events", json=pca_event(tenant), headers=auth)
            assert published.status_code == 201, published.text
            _sign_in(client, tenant)
            assert site.search().status_code == 200 and site.console().status_code == 200
            yield site
    finally:
        runtime.close()


def _sign_in(client: TestClient, tenant: str) -> None:
    form = client.get("/console/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = client.post(
        "/console/signin",
        data={"tenant": tenant, "login": "admin", "password": PASSWORD, "csrf": csrf[1]},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@dataclass
class Outage:
    site: Site
    reads_work: bool
    """A full disk still lets kansa read: searches and pages answer, writes are refused."""


@pytest.fixture(params=OUTAGES)
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    with ExitStack() as stack:
        kind = request.param
        if kind.startswith("sqlite"):
            directory = stack.enter_context(tmpfs(tmp_path / "fs"))
            site = stack.enter_context(running(f"sqlite:///{directory / 'kansa.db'}"))
            if kind == "sqlite-full":
                fill(directory)
            else:
                site.runtime.store.close()  # no file open for writing: the remount may go
                mount("-o", "remount,ro", str(directory))
        elif kind == "postgresql-stopped":
            try:
                server, stop = pg.throwaway_cluster()
            except pg.Unavailable as exc:
                pg.unavailable(str(exc))
            stack.callback(stop)
            site = stack.enter_context(running(f"{server}?connect_timeout={CONNECT_TIMEOUT}"))
            stop()
        else:
            server = request.getfixturevalue("postgres_server")
            url = pg.create_database(server)
            stack.callback(pg.drop_database, server, url)
            site = stack.enter_context(running(f"{url}?connect_timeout={CONNECT_TIMEOUT}"))
            cut_off(server, urlsplit(url).path.lstrip("/"))
        yield Outage(site, reads_work=kind == "sqlite-full")


def assert_unavailable(answer: Any, html: bool = False) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) >= 1
    if html:
        assert answer.headers["content-type"].startswith("text/html")
        return
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == 503 and body["title"] == "Service unavailable"
    assert "retry" in body["detail"] and body["problems"] == []


def test_publishing_without_a_database_is_503_with_retry_after(outage: Outage) -> None:
    for _ in range(3):  # every time, not only on the request that met the broken connection
        assert_unavailable(outage.site.publish())


def test_a_publish_without_a_database_is_answered_as_the_route_answers_it(
    outage: Outage,
) -> None:
    """The fast path (kansa.server.publishing) and the FastAPI route give the same 503."""
    site = outage.site
    with TestClient(create_app(runtime=site.runtime, fast_publish=False)) as route:
        answers = [
            site.publish(),
            route.post("/api/v1/events", json=pca_event(site.tenant, 99), headers=site.auth),
        ]
    for answer in answers:
        assert_unavailable(answer)
    fast, routed = ({k: v for k, v in a.headers.items() if k != "x-request-id"} for a in answers)
    assert fast == routed and answers[0].content == answers[1].content


def test_searching_without_a_database_is_503_with_retry_after(outage: Outage) -> None:
    for _ in range(2):
        answer = outage.site.search()
        if outage.reads_work:
            assert answer.status_code == 200 and len(answer.json()["events"]) == 1
        else:
            assert_unavailable(answer)


def test_the_console_without_a_database_is_a_503_page(outage: Outage) -> None:
    for _ in range(2):
        answer = outage.site.console()
        if outage.reads_work:
            assert answer.status_code == 200
        else:
            assert_unavailable(answer, html=True)
    signin = outage.site.ask("GET", "/console/signin")
    assert signin.status_code == 200  # the form itself needs no database


def test_a_console_sign_in_without_a_database_is_a_503_page(outage: Outage) -> None:
    """Signing in reads the account and records the sign-in: a write even on a full disk."""
    outage.site.client.cookies.clear()
    form = outage.site.ask("GET", "/console/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    data = {"tenant": outage.site.tenant, "login": "admin", "password": PASSWORD, "csrf": csrf[1]}
    assert_unavailable(outage.site.ask("POST", "/console/signin", data=data), html=True)


# -- a cursor that does not fit its sort -------------------------------------------------


def _cursor(value: Any, seq: int = 1) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value, seq])).decode().rstrip("=")


@pytest.fixture
def two_events(client: TestClient, auth: dict[str, str], tenant_id: str) -> str:
    events = [pca_event(tenant_id, 1), pca_event(tenant_id, 2)]
    assert client.post("/api/v1/events", json={"events": events}, headers=auth).status_code == 201
    return tenant_id


def _search(client: TestClient, auth: dict[str, str], tenant: str, **params: Any) -> Any:
    return client.get("/api/v1/events", params={"tenant": tenant, **params}, headers=auth)


def test_a_cursor_made_for_another_sort_is_400(
    client: TestClient, auth: dict[str, str], two_events: str
) -> None:
    first = _search(client, auth, two_events, limit=1, sort="action")
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    assert (
        _search(client, auth, two_events, limit=1, sort="action", cursor=cursor).status_code == 200
    )
    for sort in ("seq", "occurred_at", "level"):  # text where a number is sorted
        _assert_bad_cursor(_search(client, auth, two_events, sort=sort, cursor=cursor))
    by_time = _search(client, auth, two_events, limit=1).json()["next_cursor"]
    for sort in ("action", "actor", "ip"):  # a number where text is sorted
        _assert_bad_cursor(_search(client, auth, two_events, sort=sort, cursor=by_time))


@pytest.mark.parametrize(
    ("sort", "value", "seq"),
    [
        ("seq", "2", 1),
        ("occurred_at", "yesterday", 1),
        ("seq", True, 1),
        ("seq", 2**63, 1),
        ("action", "user\x00create", 1),
        ("seq", 1, 2**63),
    ],
)
def test_a_crafted_cursor_is_400(
    client: TestClient, auth: dict[str, str], two_events: str, sort: str, value: Any, seq: int
) -> None:
    _assert_bad_cursor(_search(client, auth, two_events, sort=sort, cursor=_cursor(value, seq)))


def _assert_bad_cursor(answer: Any) -> None:
    assert answer.status_code == 400, answer.text
    assert [p["path"] for p in answer.json()["problems"]] == ["cursor"]
