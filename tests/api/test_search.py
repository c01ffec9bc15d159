"""GET /api/v1/events: every filter, paging, details — on every engine."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.records import TenantChanges
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import new_key

APP = "KDDI Business ID"
ICHIRO = {"id": "u-ichiro", "name": "飯田橋 一郎", "login": "ichiro"}
JIRO = {"id": "u-jiro", "name": "飯田橋 二郎", "login": "jiro"}
SABURO = {"id": "u-saburo", "name": "神楽坂 三郎", "login": "saburo"}


def kddi(
    tenant: str, n: int, action: str, result: str, actor: dict[str, str], hours: float, **extra: Any
) -> dict[str, Any]:
    return {
        "id": f"e{n}",
        "tenant": {"id": tenant, "name": "ひかり物流"},
        "app": APP,
        "action": action,
        "result": result,
        "actor": actor,
        "occurred_at": (utcnow() - timedelta(hours=hours)).isoformat(),
        "ip": f"203.0.113.{n}",
        **extra,
    }


@pytest.fixture
def logged(store: Store, catalog: Catalog, tenant_id: str) -> str:
    """A KDDI Business ID tenant with logins, operations and two provisioning jobs."""
    store.create_tenant(
        tenant_id, name="ひかり物流", layout="kddi-business-id", tz="Asia/Tokyo", lang="ja"
    )
    job = {"targets": [{"id": "jiro@hikari.example.jp", "name": "飯田橋 二郎"}]}
    events = [
        kddi(tenant_id, 1, "login.password", "success", JIRO, 50, params={"os": "Windows"}),
        kddi(tenant_id, 2, "login.password_otp", "success", ICHIRO, 40),
        kddi(tenant_id, 3, "login.failed.password", "failure", JIRO, 30),
        kddi(tenant_id, 4, "login.locked.password_retries", "locked", SABURO, 20),
        kddi(
            tenant_id,
            5,
            "user.add",
            "done",
            ICHIRO,
            10,
            targets=[{"type": "user", "id": "jiro", "name": "飯田橋 二郎"}],
        ),
        kddi(
            tenant_id,
            6,
            "sso.setting.change",
            "done",
            ICHIRO,
            9,
            params={"sso_service": "Microsoft 365"},
            details={"note": "SAML 証明書を更新"},
        ),
        kddi(
            tenant_id,
            7,
            "provision.user.create",
            "processing",
            ICHIRO,
            8,
            params={"service": "Microsoft 365"},
            correlation_id="job-a",
            **job,
        ),
        kddi(
            tenant_id,
            8,
            "provision.user.create",
            "ok",
            ICHIRO,
            7,
            params={"service": "Microsoft 365"},
            correlation_id="job-a",
            **job,
        ),
        kddi(
            tenant_id,
            9,
            "provision.user.create",
            "processing",
            ICHIRO,
            6,
            params={"service": "Google Workspace"},
            correlation_id="job-b",
            **job,
        ),
        kddi(
            tenant_id,
            10,
            "provision.user.create",
            "ng",
            ICHIRO,
            5,
            params={"service": "Google Workspace", "reason": "ライセンス不足"},
            correlation_id="job-b",
            **job,
        ),
    ]
    store.append(prepare(events, catalog))
    return tenant_id


@pytest.fixture
def reader_auth(store: Store) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_key(store, app=APP, scopes=frozenset({'read'}))}"}


def ids(client: TestClient, auth: dict[str, str], tenant: str, **params: Any) -> list[str]:
    reply = client.get("/api/v1/events", params={"tenant": tenant, **params}, headers=auth)
    assert reply.status_code == 200, reply.json()
    return [e["client_id"] for e in reply.json()["events"]]


def test_newest_first_with_messages_and_labels(
    client: TestClient, reader_auth: dict[str, str], logged: str
) -> None:
    reply = client.get("/api/v1/events", params={"tenant": logged}, headers=reader_auth)
    events = reply.json()["events"]
    assert [e["client_id"] for e in events] == [f"e{n}" for n in range(10, 0, -1)]
    first_login = events[-1]
    assert first_login["message"] == "ID/パスワードによる認証成功[203.0.113.1 Windows]"
    assert first_login["labels"]["result"] == "ログイン成功"
    assert first_login["labels"]["level"] == "情報"
    english = client.get(
        "/api/v1/events", params={"tenant": logged, "lang": "en"}, headers=reader_auth
    ).json()["events"][-1]
    assert english["labels"]["result"] == "Login succeeded" and "Windows" in english["message"]
    assert reply.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"history": "login"}, ["e4", "e3", "e2", "e1"]),
        ({"result": "failure,locked"}, ["e4", "e3"]),
        ({"result": ["failure", "locked"]}, ["e4", "e3"]),
        ({"history": "login", "actor": "jiro"}, ["e3", "e1"]),
        ({"history": "login", "actor": "二郎"}, ["e3", "e1"]),
        ({"actor": "U-SABURO"}, ["e4"]),
        ({"history": "login", "actor_id": "u-jiro"}, ["e3", "e1"]),
        ({"actor_id": "u-jir"}, []),  # whole ids only: not a part, not another case
        ({"actor_id": "U-JIRO"}, []),
        ({"target_id": "jiro"}, ["e5"]),
        ({"target_id": "jiro@hikari"}, []),
        ({"q": "actor_id:u-saburo"}, ["e4"]),
        ({"action": "login.password*"}, ["e2", "e1"]),
        ({"action": ["user.add", "sso.setting.change"]}, ["e6", "e5"]),
        ({"group": "sso"}, ["e6"]),
        ({"group": "user-management"}, ["e5"]),
        ({"level": "warning"}, ["e10", "e3"]),  # ログインNG, and a provisioning NG
        ({"level": "important"}, ["e4"]),
        ({"category": "login"}, ["e4", "e3", "e2", "e1"]),
        ({"ip": "203.0.113.3"}, ["e3"]),
        ({"ip": "%"}, []),  # a reader's % and _ are plain characters, not wildcards
        ({"ip": "203_0"}, []),
        ({"action": "login_password*"}, []),
        ({"target": "jiro@hikari"}, ["e10", "e9", "e8", "e7"]),
        ({"history": "provisioning"}, ["e10", "e8"]),
        ({"history": "provisioning", "service": "Microsoft 365"}, ["e8"]),
        ({"history": "provisioning", "result": "ng"}, ["e10"]),
        ({"history": "provisioning", "result": "processing"}, []),
        ({"q": "ワンタイム"}, ["e2"]),
        ({"q": "saml 証明書"}, ["e6"]),
        ({"q": "actor:jiro result:failure"}, ["e3"]),
        ({"q": 'service:"Google Workspace" history:provisioning'}, ["e10"]),
        ({"q": "action:login.failed*"}, ["e3"]),
        ({"q": "ライセンス不足"}, ["e10"]),
        ({"q": "nothing-matches-this"}, []),
    ],
)
def test_each_filter(
    client: TestClient,
    reader_auth: dict[str, str],
    logged: str,
    params: dict[str, Any],
    expected: list[str],
) -> None:
    assert ids(client, reader_auth, logged, **params) == expected


def test_sorting(client: TestClient, reader_auth: dict[str, str], logged: str) -> None:
    by_actor = ids(client, reader_auth, logged, history="login", sort="actor", order="asc")
    # By code point: 神楽坂 三郎, 飯田橋 一郎, 飯田橋 二郎 ×2 (oldest first).
    assert by_actor == ["e4", "e2", "e1", "e3"]
    oldest = ids(client, reader_auth, logged, order="asc", limit=2)
    assert oldest == ["e1", "e2"]
    by_level = ids(client, reader_auth, logged, history="login", sort="level")
    assert by_level[:2] == ["e3", "e4"]  # warning before important before info


def test_cursor_pages_stay_correct_while_events_arrive(
    client: TestClient,
    reader_auth: dict[str, str],
    logged: str,
    store: Store,
    catalog: Catalog,
) -> None:
    params = {"tenant": logged, "limit": 3}
    seen: list[str] = []
    first = client.get("/api/v1/events", params=params, headers=reader_auth).json()
    seen += [e["client_id"] for e in first["events"]]
    # A new event arrives between page 1 and page 2: the pages neither repeat nor skip.
    store.append(prepare([kddi(logged, 11, "login.password", "success", JIRO, 0.1)], catalog))
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(
            "/api/v1/events", params=params | {"cursor": cursor}, headers=reader_auth
        ).json()
        seen += [e["client_id"] for e in page["events"]]
        cursor = page["next_cursor"]
    assert seen == [f"e{n}" for n in range(10, 0, -1)]


def test_one_event_in_full_and_a_job_with_all_its_states(
    client: TestClient, reader_auth: dict[str, str], logged: str, store: Store
) -> None:
    listed = client.get(
        "/api/v1/events",
        params={"tenant": logged, "history": "provisioning", "service": "Google Workspace"},
        headers=reader_auth,
    ).json()
    event_id = listed["events"][0]["id"]
    detail = client.get(
        f"/api/v1/events/{event_id}", params={"tenant": logged}, headers=reader_auth
    ).json()
    assert detail["result"] == "ng" and detail["message"] == "ライセンス不足"
    assert detail["params"] == {"service": "Google Workspace", "reason": "ライセンス不足"}
    assert len(detail["hash"]) == 64 and detail["seq"] == 10
    assert [s["result"] for s in detail["states"]] == ["processing", "ng"]
    # Viewing a detail is recorded in the tenant's own log, in kansa's history: only a search
    # that asks for that history returns it.
    assert ids(client, reader_auth, logged, action="log.event.view") == []
    views = ids(client, reader_auth, logged, action="log.event.view", history="access")
    assert len(views) == 1
    recorded = client.get(
        "/api/v1/events",
        params={"tenant": logged, "action": "log.event.view", "history": "access"},
        headers=reader_auth,
    ).json()
    assert event_id in recorded["events"][0]["message"]
    assert recorded["events"][0]["actor"]["type"] == "api_key"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "colour:red"}, "q"),
        ({"q": 'actor:"unclosed'}, "q"),
        ({"history": "nope"}, "history"),
        ({"level": "loud"}, "level"),
        ({"group": "nope"}, "group"),
        ({"sort": "password"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"limit": 501}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-20", "to": "2026-11-10"}, "from"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: TestClient,
    reader_auth: dict[str, str],
    logged: str,
    params: dict[str, Any],
    field: str,
) -> None:
    reply = client.get("/api/v1/events", params={"tenant": logged, **params}, headers=reader_auth)
    assert reply.status_code == 400, reply.json()
    assert reply.json()["problems"][0]["path"] == field


def test_recording_searches_is_a_tenant_choice(
    client: TestClient, reader_auth: dict[str, str], logged: str, store: Store
) -> None:
    ids(client, reader_auth, logged)
    assert ids(client, reader_auth, logged, action="log.search", history="access") == []
    store.update_tenant(logged, TenantChanges(record_searches=True))
    ids(client, reader_auth, logged, q="ワンタイム")
    assert len(ids(client, reader_auth, logged, action="log.search", history="access")) >= 1


def test_the_reply_says_how_each_free_text_term_was_matched(
    client: TestClient, reader_auth: dict[str, str], logged: str
) -> None:
    """A term the index serves says ``index``; one too short for it (one Japanese character,
    Latin words under three letters) is read across the window and says ``scan`` — both
    find what they match."""
    reply = client.get(
        "/api/v1/events",
        params={"tenant": logged, "q": "ワンタイム 証 result:success"},
        headers=reader_auth,
    )
    assert reply.status_code == 200
    assert reply.json()["text_match"] == [
        {"term": "ワンタイム", "by": "index"},
        {"term": "証", "by": "scan"},
    ]
    assert [e["client_id"] for e in reply.json()["events"]] == ["e2"]
    plain = client.get("/api/v1/events", params={"tenant": logged}, headers=reader_auth)
    assert plain.json()["text_match"] == []


def test_an_empty_tenant_parameter_asks_for_the_readers_own(
    client: TestClient, store: Store, reader_auth: dict[str, str], logged: str
) -> None:
    bound = {"Authorization": f"Bearer {new_key(store, app=APP, tenant=logged)}"}
    own = client.get("/api/v1/events", headers=bound)
    empty = client.get("/api/v1/events", params={"tenant": ""}, headers=bound)
    assert own.status_code == empty.status_code == 200, empty.json()
    assert empty.json()["events"] == own.json()["events"] != []
    unbound = client.get("/api/v1/events", params={"tenant": ""}, headers=reader_auth)
    assert unbound.status_code == 400
    assert unbound.json()["problems"][0]["path"] == "tenant"
