"""What the fast paths' tests compare (tests/api/test_publish_fast.py, test_search_fast.py):
a request sent to the app with a fast path and to the app without it, each on a tenant of its
own, must get the same answers, the same request log lines and the same counts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from kansa.server.app import create_app
from kansa.server.logs import fields_of
from kansa.server.publishing import FastPublish
from kansa.server.runtime import Runtime
from kansa.server.searching import FastSearch
from kansa.settings import Settings

Counts = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@contextmanager
def two_apps(
    settings: Settings, without: Literal["fast_search", "fast_publish"]
) -> Iterator[tuple[Runtime, TestClient, TestClient]]:
    """One started runtime of ``settings`` and two apps on it: one with its fast paths, one
    with the fast path ``without`` (``"fast_search"``, ``"fast_publish"``) turned off."""
    runtime = Runtime.from_settings(settings)
    runtime.start()
    try:
        with_it = create_app(runtime=runtime)
        without_it = create_app(
            runtime=runtime,
            fast_search=without != "fast_search",
            fast_publish=without != "fast_publish",
        )
        # the comparison means nothing unless exactly one of the two apps has the fast path
        fast_path: object = {"fast_search": FastSearch, "fast_publish": FastPublish}[without]
        assert [m.cls == fast_path for m in with_it.user_middleware].count(True) == 1
        assert not any(m.cls == fast_path for m in without_it.user_middleware)
        with TestClient(with_it) as fast, TestClient(without_it) as route:
            yield runtime, fast, route
    finally:
        runtime.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def unreachable(scope: Scope, receive: Receive, send: Send) -> None:
    """An app behind a fast path that fails any request handed on to it."""
    raise AssertionError(f"handed on: {scope['method']} {scope['path']}?{scope['query_string']!r}")


def answer_of(answer: httpx.Response, tenant: str) -> dict[str, Any]:
    """``answer`` with its tenant's id made ``TENANT`` (in the body and a ``Location``), its
    request id taken out (its shape checked) and its ``Content-Length`` checked against the
    body (but a HEAD's), then made ``N`` (ids and cursors differ in length between tenants)."""
    text = answer.text.replace(tenant, "TENANT")
    body: Any = orjson.loads(text) if text.startswith(("{", "[")) else text
    headers = dict(answer.headers)
    assert re.fullmatch(r"[0-9a-f]{32}", headers.pop("x-request-id"))
    if "content-length" in headers:
        if answer.request.method != "HEAD":  # which has no body
            assert int(headers["content-length"]) == len(answer.content)
        headers["content-length"] = "N"
    if "location" in headers:
        headers["location"] = headers["location"].replace(tenant, "TENANT")
    return {"status": answer.status_code, "headers": headers, "body": body}


def counted(runtime: Runtime, names: tuple[str, ...]) -> Counts:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in runtime.metrics.registry.collect()
        for sample in family.samples
        if sample.name in names
    }


@dataclass
class Seen:
    answers: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    """The request log lines, without their times and ids; paths with the tenant made
    ``TENANT`` and any cursor ``C``."""
    moved: Counts
    """What the counts ``names`` moved by."""


def seen(
    runtime: Runtime,
    names: tuple[str, ...],
    caplog: pytest.LogCaptureFixture,
    tenant: str,
    send: Callable[[], list[httpx.Response]],
    answer: Callable[[httpx.Response, str], dict[str, Any]] = answer_of,
) -> Seen:
    """What ``send`` got for ``tenant``: its answers (made comparable by ``answer``), its log
    lines and the counts it moved."""
    before = counted(runtime, names)
    caplog.clear()
    answers = [answer(a, tenant) for a in send()]
    lines = [
        {k: v for k, v in fields_of(r).items() if k not in ("ms", "request_id")}
        | {"path": re.sub(r"cursor=[^&]*", "cursor=C", str(fields_of(r)["path"]))}
        for r in caplog.records
        if r.name == "kansa.request"
    ]
    for line in lines:
        line["path"] = line["path"].replace(tenant, "TENANT")
    after = counted(runtime, names)
    moved = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
    return Seen(answers, lines, moved)


def assert_alike(fast: Seen, route: Seen) -> None:
    assert fast.answers == route.answers
    assert fast.lines == route.lines and len(fast.lines) == len(fast.answers)
    assert fast.moved == route.moved
