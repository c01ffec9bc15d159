"""Errors at the HTTP edge that a client's input could turn into a 500: a cursor that does not
fit its sort is a 400 naming ``cursor``. On both engines."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.conftest import pca_event

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
