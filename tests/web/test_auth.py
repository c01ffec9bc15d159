"""Signing in to the console, sessions, CSRF and the headers of every page — through the
real app on every engine. Sign-in, failed sign-in and sign-out land in the tenant's log."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from kansa.events.query import Filters, Query
from kansa.events.stored import StoredEvent
from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.timeutil import utcnow
from kansa.web.session import COOKIE, seal, start
from tests.helpers import actor_of, details_of, viewer_token
from tests.web.seed import PASSWORD


def nonce(client: TestClient) -> str:
    page = client.get("/console/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, tenant: str, login: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/console/signin",
        data={"tenant": tenant, "login": login, "password": password, "csrf": nonce(client)},
        follow_redirects=False,
    )


def console_events(store: Store, tenant: str) -> list[StoredEvent]:
    query = Query(tenant=tenant, filters=Filters(actions=("console.*",)), descending=False)
    return store.search(query).events


def test_every_page_carries_the_security_headers(client: TestClient) -> None:
    page = client.get("/console/signin")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text and " style=" not in page.text
    missing = client.get("/console/static/nothing.js")
    assert missing.status_code == 404 and "content-security-policy" in missing.headers


def test_sign_in_and_out_are_recorded_and_the_cookie_is_safe(
    client: TestClient, store: Store, kddi: str
) -> None:
    answer = sign_in(client, kddi, "admin")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/log"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    page = client.get("/console/log")
    assert page.status_code == 200 and "ログイン履歴" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    refused = client.post("/console/signout", data={"csrf": "wrong"}, follow_redirects=False)
    assert refused.status_code == 400
    out = client.post("/console/signout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and "signed_out" in out.headers["location"]
    assert client.get("/console/log", follow_redirects=False).status_code == 303
    recorded = console_events(store, kddi)
    assert [(e["action"], e["result"], actor_of(e)["id"]) for e in recorded] == [
        ("console.signin", "success", "admin"),
        ("console.signout", "success", "admin"),
    ]
    assert recorded[0]["history"] == "access" and recorded[0]["details"] == {"method": "password"}


def test_a_failed_sign_in_is_recorded_and_an_unknown_login_anonymously(
    client: TestClient, store: Store, kddi: str
) -> None:
    wrong = sign_in(client, kddi, "u-jiro", "not the password")
    assert wrong.status_code == 401 and "正しくありません" in wrong.text
    unknown = sign_in(client, kddi, "<b>nobody</b>", "whatever-password")
    assert unknown.status_code == 401 and "&lt;b&gt;nobody&lt;/b&gt;" in unknown.text
    no_tenant = sign_in(client, "no-such-tenant", "admin")
    assert no_tenant.status_code == 401
    failed = console_events(store, kddi)
    assert [e["action"] for e in failed] == ["console.signin_failed"] * 2
    assert actor_of(failed[0])["id"] == "u-jiro" and failed[0]["level"] == "warning"
    assert failed[1]["actor"] is None and failed[1]["anonymous"] is True
    assert failed[1]["params"] == {"login": "<b>nobody</b>"}
    # kansa's own history, not the product's login history: administrators see it in its tab
    sign_in(client, kddi, "u-jiro")
    assert "ログ画面へのログインに失敗" not in client.get("/console/log").text
    sign_in(client, kddi, "admin")
    assert "ログ画面へのログインに失敗" not in client.get("/console/log").text
    page = client.get("/console/log?tab=log-access")
    assert "ログ画面へのログインに失敗（ログイン名: u-jiro）" in page.text
    assert "&lt;b&gt;nobody&lt;/b&gt;" in page.text


def test_repeated_failures_lock_the_account(runtime: Runtime, store: Store, kddi: str) -> None:
    runtime.settings = runtime.settings.model_copy(update={"signin_max_failures": 2})
    with TestClient(create_app(runtime=runtime)) as client:
        for _ in range(2):
            assert sign_in(client, kddi, "admin", "wrong password!").status_code == 401
        assert sign_in(client, kddi, "admin").status_code == 401  # locked: even the right one
    reasons = [details_of(e)["reason"] for e in console_events(store, kddi)]
    assert reasons[-1] == "account is locked"


def test_the_sign_in_form_needs_its_csrf_token(client: TestClient, kddi: str) -> None:
    client.get("/console/signin")
    answer = client.post(
        "/console/signin",
        data={"tenant": kddi, "login": "admin", "password": PASSWORD, "csrf": "forged"},
    )
    assert answer.status_code == 400 and "有効期限" in answer.text


def test_https_cookies_are_secure(runtime: Runtime, kddi: str) -> None:
    with TestClient(create_app(runtime=runtime), base_url="https://testserver") as client:
        answer = sign_in(client, kddi, "admin")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(COOKIE))
    assert "Secure" in cookie


def test_a_viewer_token_opens_a_session_and_leaves_the_url(
    client: TestClient, runtime: Runtime, store: Store, kddi: str
) -> None:
    minted = viewer_token(runtime, kddi)
    answer = client.get(f"/console/enter?token={minted.token}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/log"
    page = client.get("/console/log")
    assert "あなた自身のログのみ表示しています" in page.text and "神楽坂 三郎" not in page.text
    assert console_events(store, kddi)[-1]["details"] == {"method": "viewer token"}
    client.cookies.clear()
    expired = viewer_token(runtime, kddi, name="x", ttl=1, now=utcnow() - timedelta(hours=1))
    refused = client.get(f"/console/enter?token={expired.token}", follow_redirects=False)
    assert refused.headers["location"] == "/console/signin?m=token"


def test_expired_or_forged_sessions_are_refused(
    client: TestClient, runtime: Runtime, kddi: str
) -> None:
    from kansa.access.readers import Reader

    admin = Reader("account", "admin", kddi, "admin", "管理 太郎")
    old = start(admin, utcnow() - timedelta(hours=2), 30)
    client.cookies.set(COOKIE, seal(runtime.secret_key(), old), path="/console")
    answer = client.get("/console/log", follow_redirects=False)
    assert answer.headers["location"] == "/console/signin?m=expired"
    forged = seal(b"another secret", start(admin, utcnow(), 30))
    client.cookies.set(COOKIE, forged, path="/console")
    assert client.get("/console/log", follow_redirects=False).status_code == 303
    # a session of a user cannot be turned into an administrator's by editing it
    user = seal(
        runtime.secret_key(), start(Reader("account", "user", kddi, "u-jiro", "j"), utcnow(), 30)
    )
    head, payload, signature = user.split(".")
    tampered = f"{head}.{payload[:-2]}AA.{signature}"
    client.cookies.set(COOKIE, tampered, path="/console")
    assert client.get("/console/log", follow_redirects=False).status_code == 303


def test_a_user_never_opens_another_persons_event(
    client: TestClient, store: Store, kddi: str
) -> None:
    others = store.search(Query(tenant=kddi, filters=Filters(actor="ichiro"))).events
    sign_in(client, kddi, "u-jiro")
    answer = client.get(f"/console/events/{others[0]['id']}")
    assert answer.status_code == 404
    assert client.get("/console/log?tab=provisioning").text.count("サービス連携履歴") == 0


def test_a_search_outside_the_window_says_so(client: TestClient, kddi: str) -> None:
    sign_in(client, kddi, "admin")
    page = client.get("/console/log?tab=login&from=2001-01-01&to=2001-01-02")
    assert page.status_code == 200 and "以降を指定してください" in page.text
    page = client.get("/console/log?tab=login&from=2999-01-01&to=2001-01-02&lang=en")
    assert "The start date is after the end date." in page.text


def test_a_right_to_left_override_is_shown_not_obeyed(
    client: TestClient, runtime: Runtime, kddi: str
) -> None:
    minted = viewer_token(runtime, kddi, name="jiro\u202eexe.pdf")
    client.get(f"/console/enter?token={minted.token}", follow_redirects=False)
    page = client.get("/console/log")
    assert page.status_code == 200
    assert "\u202e" not in page.text and "jiro&lt;U+202E&gt;exe.pdf" in page.text
