"""The size of every field of an event: a value over its limit is a 422 naming the field's
path, and nothing of the batch is stored — through the real app, on every engine."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from kansa.events import prepare as events
from kansa.store import Store
from tests.helpers import pca_event

URL = "/api/v1/events"


def long(n: int) -> str:
    return "あ" * n  # characters, not bytes, are counted


# (path the 422 names, how to put a value one over the limit into an event)
OVER: list[tuple[str, dict[str, Any]]] = [
    ("id", {"id": long(events.MAX_ID + 1)}),
    ("tenant.name", {"tenant": {"id": "x", "name": long(events.MAX_NAME + 1)}}),
    ("app", {"app": long(events.MAX_ID + 1)}),
    ("action", {"action": long(events.MAX_ID + 1)}),
    ("result", {"result": long(events.MAX_CODE + 1)}),
    ("actor.id", {"actor": {"id": long(events.MAX_ID + 1)}}),
    ("actor.name", {"actor": {"id": "a", "name": long(events.MAX_NAME + 1)}}),
    ("actor.login", {"actor": {"id": "a", "login": long(events.MAX_NAME + 1)}}),
    ("actor.email", {"actor": {"id": "a", "email": long(events.MAX_NAME + 1)}}),
    ("actor.type", {"actor": {"id": "a", "type": long(events.MAX_CODE + 1)}}),
    ("ip", {"ip": "1" * (events.MAX_IP + 1)}),
    ("user_agent", {"user_agent": long(events.MAX_TEXT + 1)}),
    ("targets[0].name", {"targets": [{"id": "t", "name": long(events.MAX_NAME + 1)}]}),
    ("targets[0].id", {"targets": [{"id": long(events.MAX_ID + 1)}]}),
    ("targets", {"targets": [{"id": "t"}] * (events.MAX_TARGETS + 1)}),
    ("trace_id", {"trace_id": long(events.MAX_ID + 1)}),
    ("correlation_id", {"correlation_id": long(events.MAX_ID + 1)}),
    ("error.code", {"error": {"code": long(events.MAX_ID + 1)}}),
    ("error.message", {"error": {"message": long(events.MAX_TEXT + 1)}}),
    ("params.login", {"params": {"login": long(events.MAX_TEXT + 1)}}),
    ("params.list", {"params": {"login": "x", "list": ["y"] * (events.MAX_PARAMS + 1)}}),
    ("params", {"params": {"login": "x", **{f"k{n}": "v" for n in range(events.MAX_PARAMS)}}}),
    ("params", {"params": {"login": "x", **{f"k{n}": "v" * 1900 for n in range(9)}}}),
    ("details", {"details": {"x": "y" * events.MAX_DETAILS_BYTES}}),
]


def test_every_field_over_its_limit_is_named_by_its_path(
    client: TestClient, auth: dict[str, str], store: Store, tenant_id: str
) -> None:
    batch = [pca_event(tenant_id, 0)]
    for n, (_, change) in enumerate(OVER, 1):
        event = pca_event(tenant_id, n) | change
        if "tenant" in change:
            event["tenant"] = {**change["tenant"], "id": tenant_id}
        batch.append(event)
    reply = client.post(URL, json={"events": batch}, headers=auth)
    assert reply.status_code == 422, reply.text
    named = [p["path"] for p in reply.json()["problems"]]
    expected = [f"events[{n}].{path}" for n, (path, _) in enumerate(OVER, 1)]
    assert sorted(set(named)) == sorted(expected)  # every one, and nothing of events[0]
    assert store.count_events(tenant_id) == 0


def test_each_limit_is_inclusive(
    client: TestClient, auth: dict[str, str], store: Store, tenant_id: str
) -> None:
    at = pca_event(
        tenant_id,
        actor={"id": long(events.MAX_ID), "name": long(events.MAX_NAME)},
        user_agent=long(events.MAX_TEXT),
        trace_id=long(events.MAX_ID),
        params={"login": long(events.MAX_TEXT)},
    )
    assert client.post(URL, json=at, headers=auth).status_code == 201


@pytest.mark.parametrize("depth", [events.MAX_DEPTH + 1, 300, 1000])
def test_details_nested_too_deep_are_refused_not_a_server_error(
    client: TestClient, auth: dict[str, str], tenant_id: str, depth: int
) -> None:
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    event = orjson.dumps(pca_event(tenant_id, details="HERE"))
    body = b'{"events":[%b]}' % event.replace(b'"HERE"', nested)
    reply = client.post(URL, content=body, headers=auth | {"content-type": "application/json"})
    assert reply.status_code in (400, 422), reply.text
    if reply.status_code == 422:
        assert reply.json()["problems"][0]["path"] == "events[0].details"


def test_a_validation_error_never_echoes_the_authorization_header(
    client: TestClient, auth: dict[str, str], tenant_id: str
) -> None:
    key = auth["Authorization"].removeprefix("Bearer ")
    reply = client.post(URL, json={"events": [{"tenant": tenant_id}]}, headers=auth)
    assert reply.status_code == 422 and key not in reply.text
    refused = client.post(
        URL, json=pca_event(tenant_id), headers={"Authorization": f"Bearer {key}x"}
    )
    assert refused.status_code == 401 and key not in refused.text
