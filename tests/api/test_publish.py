"""POST /api/v1/events through the real application, on every engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from kansa.store import Store
from tests.helpers import intact, new_key, pca_event

URL = "/api/v1/events"


def post(client: TestClient, body: Any, auth: dict[str, str], **kwargs: Any) -> Any:
    return client.post(URL, json=body, headers=auth, **kwargs)


def test_one_event_is_stored_and_receipted(
    client: TestClient, auth: dict[str, str], store: Store, tenant_id: str
) -> None:
    reply = post(client, pca_event(tenant_id), auth)
    assert reply.status_code == 201
    body = reply.json()
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    (receipt,) = body["events"]
    assert receipt["seq"] == 1 and receipt["client_id"] == "evt-1" and len(receipt["hash"]) == 64
    stored = store.get_event(tenant_id, receipt["id"])
    assert stored is not None and stored["message"]["ja"] == "ユーザー[jiro]を作成"


def test_a_batch_is_stored_in_order(
    client: TestClient, auth: dict[str, str], store: Store, tenant_id: str
) -> None:
    batch = {"events": [pca_event(tenant_id, n) for n in range(1, 101)]}
    reply = post(client, batch, auth)
    assert reply.status_code == 201 and reply.json()["accepted"] == 100
    assert [r["seq"] for r in reply.json()["events"]] == list(range(1, 101))
    walk = intact(store, tenant_id)
    assert walk.checked == 100


def test_a_resent_event_returns_its_original_receipt(
    client: TestClient, auth: dict[str, str], store: Store, tenant_id: str
) -> None:
    first = post(client, pca_event(tenant_id), auth).json()["events"][0]
    again = post(client, pca_event(tenant_id), auth)
    assert again.status_code == 200
    body = again.json()
    assert (body["accepted"], body["duplicates"]) == (0, 1)
    assert {k: body["events"][0][k] for k in ("id", "seq", "hash")} == {
        k: first[k] for k in ("id", "seq", "hash")
    }
    mixed = post(client, {"events": [pca_event(tenant_id, 1), pca_event(tenant_id, 2)]}, auth)
    assert mixed.status_code == 201 and (mixed.json()["accepted"], mixed.json()["duplicates"]) == (
        1,
        1,
    )
    assert store.count_events(tenant_id) == 2


def test_an_invalid_batch_stores_nothing_and_names_every_problem(
    client: TestClient, auth: dict[str, str], store: Store, tenant_id: str
) -> None:
    batch = {
        "events": [
            pca_event(tenant_id, 1),
            pca_event(tenant_id, 2, action="user.creat"),
            pca_event(tenant_id, 3, actor={"name": "名無し"}),
            pca_event(tenant_id, 4, occurred_at="2026-11-21 10:00:00"),
        ]
    }
    reply = post(client, batch, auth)
    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"
    paths = {p["path"]: p["message"] for p in reply.json()["problems"]}
    assert set(paths) == {"events[1].action", "events[2].actor.id", "events[3].occurred_at"}
    assert "user.create" in paths["events[1].action"]
    assert store.count_events(tenant_id) == 0
    assert store.get_tenant(tenant_id) is None


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ([], "body"),
        ("text", "body"),
        ({"events": []}, "events"),
        ({"events": {}}, "events"),
        ({"events": [1]}, "events[0]"),
        ({"events": [], "extra": 1}, "extra"),
    ],
)
def test_malformed_bodies_are_422_with_a_path(
    client: TestClient, auth: dict[str, str], body: Any, path: str
) -> None:
    reply = post(client, body, auth)
    assert reply.status_code == 422
    assert reply.json()["problems"][0]["path"] == path


def test_a_body_that_is_not_json_is_400_and_not_json_at_all_is_415(
    client: TestClient, auth: dict[str, str]
) -> None:
    headers = auth | {"content-type": "application/json"}
    broken = client.post(URL, content=b'{"tenant": ', headers=headers)
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["detail"]
    wrong_type = client.post(
        URL,
        content=b"tenant=x",
        headers=auth | {"content-type": "application/x-www-form-urlencoded"},
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["problems"][0]["path"] == "content-type"


def test_keys_are_required_and_checked(client: TestClient, store: Store, tenant_id: str) -> None:
    event = pca_event(tenant_id)
    assert client.post(URL, json=event).status_code == 401
    assert client.post(URL, json=event).headers["www-authenticate"] == "Bearer"
    for header in ("Bearer nope", "Basic abc", "Bearer kansa_000000000000_wrong"):
        assert client.post(URL, json=event, headers={"Authorization": header}).status_code == 401
    real = new_key(store)
    forged = real[: real.rindex("_") + 1] + "x" * 43
    assert (
        client.post(URL, json=event, headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    assert store.count_events(tenant_id) == 0


def test_a_key_without_publish_scope_is_403(
    client: TestClient, store: Store, tenant_id: str
) -> None:
    reader = new_key(store, scopes=frozenset({"read"}))
    reply = post(client, pca_event(tenant_id), {"Authorization": f"Bearer {reader}"})
    assert reply.status_code == 403 and "publish" in reply.json()["detail"]


def test_a_key_bound_to_a_tenant_publishes_only_for_it(
    client: TestClient, store: Store, tenant_id: str
) -> None:
    store.create_tenant(tenant_id, name=None, layout="pca-id", tz="Asia/Tokyo", lang="ja")
    bound = {"Authorization": f"Bearer {new_key(store, tenant=tenant_id)}"}
    assert post(client, pca_event(tenant_id), bound).status_code == 201
    other = tenant_id + "-other"
    reply = post(client, {"events": [pca_event(tenant_id, 2), pca_event(other, 3)]}, bound)
    assert reply.status_code == 403
    assert reply.json()["detail"].startswith("events[1].tenant.id")
    assert store.count_events(tenant_id) == 1 and store.count_events(other) == 0


def test_the_body_size_limit_is_413(client: TestClient, auth: dict[str, str]) -> None:
    limit = client.app.state.kansa.settings.max_body_bytes  # type: ignore[attr-defined]
    big = orjson.dumps({"events": [{"details": {"x": "y" * (limit + 10)}}]})
    reply = client.post(URL, content=big, headers=auth | {"content-type": "application/json"})
    assert reply.status_code == 413 and reply.json()["problems"][0]["path"] == "body"


def test_the_batch_size_limit_is_422(
    client: TestClient, auth: dict[str, str], tenant_id: str
) -> None:
    limit = client.app.state.kansa.settings.max_batch  # type: ignore[attr-defined]
    events = [pca_event(tenant_id, n) for n in range(limit + 1)]
    reply = post(client, {"events": events}, auth)
    assert reply.status_code == 422 and f"at most {limit}" in reply.json()["detail"]


def test_hostile_values_are_stored_as_given(
    client: TestClient, auth: dict[str, str], store: Store, tenant_id: str
) -> None:
    payload = '"><img src=x onerror=alert(1)><script>alert(1)</script>'
    event = pca_event(tenant_id, params={"login": payload}, details={"\u202e": "=cmd|'/c calc'"})
    reply = post(client, event, auth)
    assert reply.status_code == 201
    stored = store.get_event(tenant_id, reply.json()["events"][0]["id"])
    assert stored is not None and stored["params"]["login"] == payload
    assert stored["message"]["ja"] == f"ユーザー[{payload}]を作成"


def test_nul_characters_and_integers_beyond_64_bits_are_refused_naming_the_place(
    client: TestClient, auth: dict[str, str], store: Store, tenant_id: str
) -> None:
    """PostgreSQL cannot store NUL, and a number beyond 64 bits would be rounded: one rule on
    both engines, a 422 naming each place, and nothing of the batch stored."""
    batch = {
        "events": [
            pca_event(tenant_id, 1, params={"login": "jiro", "big": 2**63 - 1, "small": -(2**63)}),
            pca_event(tenant_id, 2, actor={"id": "a\u0000b", "name": "x"}),
            pca_event(tenant_id, 3, details={"n\u0000": 1, "deep": [{"big": 2**70}]}),
            pca_event(tenant_id, 4, params={"login": "jiro", "big": 2**64}),
        ]
    }
    reply = post(client, batch, auth)
    assert reply.status_code == 422, reply.text
    paths = [p["path"] for p in reply.json()["problems"]]
    assert paths == [
        "events[1].actor.id",
        "events[2].details.deep[0].big",
        "events[2].details.n\\u0000",
        "events[3].params.big",
    ]
    assert store.count_events(tenant_id) == 0
    raw = b'{"events": [%s]}' % orjson.dumps(pca_event(tenant_id, 5)).replace(
        b'"role"', b'"role", 1180591620717411303424'
    )
    reply = client.post(URL, content=raw, headers=auth | {"content-type": "application/json"})
    assert reply.status_code == 422 and "beyond 64 bits" in reply.text
    exact = post(client, batch["events"][0], auth)
    assert exact.status_code == 201
    stored = store.get_event(tenant_id, exact.json()["events"][0]["id"])
    assert stored is not None and stored["params"]["big"] == 2**63 - 1


def test_the_catalog_lists_every_event_type(client: TestClient) -> None:
    body = client.get("/api/v1/catalog").json()
    assert body["count"] == len(body["event_types"]) > 200
    create = next(
        t for t in body["event_types"] if t["product"] == "pca-id" and t["action"] == "user.create"
    )
    assert create["category"] == "user" and create["history"] == "operation"
    assert create["level"] == "info" and create["params"] == ["login"]
    assert create["message"] == {"ja": "ユーザー[{login}]を作成", "en": "Created user [{login}]"}
    assert {r["code"] for r in create["results"]} == {"success", "failure"}
    kddi = client.get("/api/v1/catalog", params={"product": "kddi-business-id"}).json()
    assert kddi["count"] == 103 and {t["history"] for t in kddi["event_types"]} == {
        "login",
        "operation",
        "provisioning",
    }


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/events", "/api/v1/catalog", "/healthz"} <= set(spec["paths"])
    assert "EventIn" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_with_tenants_created_beforehand_an_unknown_tenant_is_refused(
    store_url: str, store: Store, tenant_id: str
) -> None:
    """KANSA_CREATE_TENANTS=false: a misspelled tenant id is a 422 naming ``tenant.id``, and
    no tenant is made of it; a tenant created beforehand takes events as ever."""
    settings = Settings(database_url=store_url, create_tenants=False)
    store.create_tenant(tenant_id, name=None, layout="pca-id", tz="Asia/Tokyo", lang="ja")
    auth = {"Authorization": f"Bearer {new_key(store)}"}
    runtime = Runtime.from_settings(settings)
    runtime.start()
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            typo = tenant_id + "x"
            reply = post(client, pca_event(typo), auth)
            assert reply.status_code == 422
            (problem,) = reply.json()["problems"]
            assert problem["path"] == "tenant.id" and repr(typo) in problem["message"]
            batch = {"events": [pca_event(tenant_id, 1), pca_event(typo, 2)]}
            reply = post(client, batch, auth)
            assert reply.status_code == 422
            assert [p["path"] for p in reply.json()["problems"]] == ["events[1].tenant.id"]
            assert store.get_tenant(typo) is None and store.count_events(tenant_id) == 0
            assert post(client, pca_event(tenant_id), auth).status_code == 201
    finally:
        runtime.close()
    assert store.count_events(tenant_id) == 1


def test_two_apps_in_one_process_each_serve_their_own_runtime(tmp_path: Path) -> None:
    """The apps of one process share their routes (built once: kansa.server.app._routes).
    Each request must still reach its own app's runtime, through FastAPI's routes as much
    as through the fast paths."""
    runtimes = [
        Runtime.from_settings(
            Settings(database_url=f"sqlite:///{tmp_path / name}.db", writer_process=False)
        )
        for name in ("one", "two")
    ]
    for runtime in runtimes:
        runtime.start()
    keys = [{"Authorization": f"Bearer {new_key(r.store)}"} for r in runtimes]
    try:
        for fast in (True, False):
            for number, (runtime, auth) in enumerate(zip(runtimes, keys, strict=True), 1):
                app = create_app(runtime=runtime, fast_publish=fast, fast_search=fast)
                with TestClient(app) as client:
                    event = pca_event("t-apart", number + (0 if fast else 10))
                    assert post(client, event, auth).status_code == 201
                    found = client.get("/api/v1/events", params={"tenant": "t-apart"}, headers=auth)
                    assert found.status_code == 200
                    assert [e["client_id"] for e in found.json()["events"]] == (
                        [f"evt-{number}"] if fast else [f"evt-{number + 10}", f"evt-{number}"]
                    )
    finally:
        for runtime in runtimes:
            runtime.close()
