"""Every request once from the outside (kansa.server.requests): its id answered and logged,
its scheme taken from a trusted proxy only, one log line with the route template, the
client's address and the path with its credentials redacted."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kansa.server.app import create_app
from kansa.server.logs import fields_of
from kansa.server.requests import RequestIds
from kansa.server.runtime import Runtime
from kansa.settings import Settings


@pytest.fixture
def proxied(store_url: str) -> Iterator[TestClient]:
    """An app that trusts the test client's address ("testclient" is not an address, so the
    client is made to come from 10.0.0.5) as a proxy."""
    runtime = Runtime.from_settings(
        Settings(database_url=store_url, trusted_proxies=["10.0.0.0/8"])  # type: ignore[list-item]
    )
    runtime.start()
    with TestClient(create_app(runtime=runtime), client=("10.0.0.5", 4000)) as http:
        yield http
    runtime.close()


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [fields_of(r) for r in caplog.records if r.name == "kansa.request"]


def test_every_answer_has_a_request_id_that_is_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "kansa.request")
    first = client.get("/healthz", headers={"X-Request-Id": "from-a-client"})
    second = client.get("/healthz")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert len(set(ids)) == 2 and "from-a-client" not in ids  # not believed from a client
    lines = request_lines(caplog)
    assert [line["request_id"] for line in lines[-2:]] == ids
    assert lines[-1]["route"] == "/healthz" and lines[-1]["status"] == 200


def test_a_trusted_proxy_gives_the_request_id_client_and_scheme(
    proxied: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "kansa.request")
    headers = {
        "X-Request-Id": "nginx-0123abc",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
    }
    page = proxied.get("/console/signin", headers=headers)
    assert page.headers["x-request-id"] == "nginx-0123abc"
    assert "secure" in page.headers["set-cookie"].lower()
    line = request_lines(caplog)[-1]
    assert (line["client"], line["request_id"]) == ("203.0.113.7", "nginx-0123abc")
    bad = proxied.get("/healthz", headers={"X-Request-Id": "two words\nand a line"})
    assert bad.headers["x-request-id"] != "two words\nand a line"


def test_forwarded_proto_from_anyone_else_is_ignored(client: TestClient) -> None:
    page = client.get("/console/signin", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in page.headers["set-cookie"].lower()


def test_credentials_in_the_path_are_redacted_in_the_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "kansa.request")
    client.get(
        "/console/enter", params={"token": "vt-SECRET-xyz", "lang": "en"}, follow_redirects=False
    )
    line = request_lines(caplog)[-1]
    assert line["path"] == "/console/enter?token=[redacted]&lang=en"
    assert "vt-SECRET-xyz" not in caplog.text


DEFAULT_POLICY = "default-src 'none'; frame-ancestors 'none'"


def test_every_answer_carries_the_default_headers_and_its_id_once(client: TestClient) -> None:
    big = {"content-type": "application/json", "content-length": str(6 * 1024 * 1024)}
    answers = {
        "route": client.get("/healthz"),
        "no route": client.get("/nowhere"),
        "wrong method": client.put("/api/v1/events"),
        "nul": client.get("/api/v1/events", params={"action": "a\x00"}),
        "too large": client.post("/api/v1/events", content=b"{}", headers=big),
    }
    for why, answer in answers.items():
        assert answer.headers.get_list("content-security-policy") == [DEFAULT_POLICY], why
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"], why
        assert len(answer.headers.get_list("x-request-id")) == 1, why
    assert [a.status_code for a in answers.values()] == [200, 404, 405, 400, 413]
    docs = client.get("/docs").headers.get_list("content-security-policy")
    assert len(docs) == 1 and docs != [DEFAULT_POLICY]  # a route's own policy is kept


def test_new_request_ids_are_unique_and_shaped_as_before() -> None:
    ids = RequestIds()
    made = [ids.new() for _ in range(1000)]
    ids.restart()  # as in a forked child: another key, so other ids from the same counts
    made += [ids.new() for _ in range(1000)]
    assert len(set(made)) == 2000
    assert all(re.fullmatch("[0-9a-f]{32}", made_id) for made_id in made)
    assert len({made_id[:8] for made_id in made}) > 1900  # no shared prefix, no visible count
