"""Tenants of each layout with accounts and a handful of events — some carrying XSS
payloads in every field a publisher controls — for the console tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.records import TenantChanges
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import password_hash

PASSWORD = "console-test-password"
LAYOUTS = ("kddi-business-id", "pca-id", "microcms", "cybozu")
APPS = {
    "kddi-business-id": "KDDI Business ID",
    "pca-id": "PCA Hub",
    "microcms": "microCMS",
    "cybozu": "Garoon",
}
ICHIRO = {"id": "u-ichiro", "name": "飯田橋 一郎", "login": "ichiro"}
JIRO = {"id": "u-jiro", "name": "飯田橋 二郎", "login": "jiro"}
SABURO = {"id": "u-saburo", "name": "神楽坂 三郎", "login": "saburo"}
SCRIPT = "<script>alert('xss-script')</script>"
IMG = '"><img src=x onerror=alert("xss-img")>'
JS_URL = "javascript:alert('xss-url')"
EVIL = {"id": "u-evil", "name": SCRIPT, "login": IMG, "email": JS_URL}
LONG = "とても長い説明文です。" * 12


def _event(
    tenant: str,
    layout: str,
    n: int,
    action: str,
    actor: dict[str, str],
    hours: float,
    result: str = "success",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": f"seed-{n}",
        "tenant": {"id": tenant, "name": f"{layout} テスト組織"},
        "app": APPS[layout],
        "action": action,
        "result": result,
        "actor": actor,
        "occurred_at": (utcnow() - timedelta(hours=hours)).isoformat(),
        "ip": f"203.0.113.{n}",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        **extra,
    }


def events_of(tenant: str, layout: str) -> list[dict[str, Any]]:
    def e(
        n: int,
        action: str,
        actor: dict[str, str],
        hours: float,
        result: str = "success",
        **extra: Any,
    ) -> dict[str, Any]:
        return _event(tenant, layout, n, action, actor, hours, result, **extra)

    evil_details = {"note": IMG, "link": JS_URL, "html": SCRIPT}
    if layout == "kddi-business-id":
        job = {"targets": [{"id": "jiro@hikari.example.jp", "name": "飯田橋 二郎"}]}
        return [
            e(1, "login.password", JIRO, 50, params={"os": "Windows"}),
            e(2, "login.password_otp", ICHIRO, 40, params={"os": LONG}),
            e(3, "login.failed.password", JIRO, 30, "failure"),
            e(4, "login.locked.password_retries", SABURO, 20, "locked"),
            e(
                5,
                "user.add",
                ICHIRO,
                10,
                "done",
                targets=[{"type": "user", "id": "jiro", "name": "飯田橋 二郎"}],
            ),
            e(
                6,
                "sso.setting.change",
                ICHIRO,
                9,
                "done",
                params={"sso_service": "Microsoft 365"},
                details={"note": "SAML 証明書を更新"},
            ),
            e(7, "self.password.change", JIRO, 8, "done"),
            e(
                8,
                "provision.user.create",
                ICHIRO,
                7,
                "processing",
                params={"service": "Microsoft 365"},
                correlation_id="job-a",
                **job,
            ),
            e(
                9,
                "provision.user.create",
                ICHIRO,
                6.9,
                "ok",
                params={"service": "Microsoft 365"},
                correlation_id="job-a",
                **job,
            ),
            e(
                10,
                "provision.user.delete",
                ICHIRO,
                6,
                "ng",
                params={"service": "Google Workspace", "reason": "ライセンス不足"},
                correlation_id="job-b",
                targets=[{"id": "saburo@hikari.example.jp"}],
            ),
            e(11, "login.password", EVIL, 5, params={"os": IMG}, details=evil_details),
            e(
                12,
                "sso.setting.change",
                EVIL,
                4,
                "done",
                params={"sso_service": JS_URL},
                details=evil_details,
            ),
        ]
    if layout == "pca-id":
        return [
            e(1, "auth.login", ICHIRO, 30),
            e(2, "auth.login_failed", JIRO, 20, "failure"),
            e(3, "auth.login", JIRO, 19, "failure", error={"code": "E500", "message": "timeout"}),
            e(4, "user.password.change", JIRO, 10, details={"changed": ["password"]}),
            e(5, "user.create", ICHIRO, 9, params={"login": "saburo"}),
            e(6, "auth.logout", ICHIRO, 5),
            e(7, "auth.login", EVIL, 4, details=evil_details),
        ]
    if layout == "microcms":
        return [
            e(1, "content.create", ICHIRO, 30, params={"api_name": "blogs", "content_id": "c-1"}),
            e(2, "content.update", JIRO, 20, params={"api_name": "news", "content_id": "c-2"}),
            e(3, "api_key.delete", ICHIRO, 10, params={"api_key_name": "本番キー"}),
            e(
                4,
                "content.delete",
                EVIL,
                4,
                params={"api_name": IMG, "content_id": SCRIPT},
                details=evil_details,
            ),
        ]
    target = {"type": "user", "id": "jiro", "name": "飯田橋 二郎"}
    return [
        e(1, "login", ICHIRO, 30),
        e(2, "login", JIRO, 20, "failure", params={"login_name": "jiro"}),
        e(
            3,
            "download certificate",
            ICHIRO,
            10,
            targets=[target],
            params={"module": "User Profile"},
        ),
        e(7, "login API", JIRO, 12, "failure", params={"api": "REST", "login_name": "jiro"}),
        e(
            4,
            "send password reset mail",
            ICHIRO,
            9,
            "failure",
            params={"email": "nobody@example.jp", "reason": "unregistered"},
            targets=[target],
        ),
        e(5, "logout", JIRO, 5),
        e(
            6,
            "download certificate",
            EVIL,
            4,
            targets=[{"id": SCRIPT, "name": IMG}],
            params={"module": "System Administration"},
            details=evil_details,
        ),
    ]


def seed(store: Store, catalog: Catalog, suffix: str) -> dict[str, str]:
    """One tenant per layout (``web-<layout>-<suffix>``) with an ``admin`` and the general
    users ``u-ichiro`` and ``u-jiro``; returns layout → tenant id."""
    hashed = password_hash(PASSWORD)
    tenants = {}
    for layout in LAYOUTS:
        tenant = f"web-{layout}-{suffix}"
        store.create_tenant(
            tenant, name=f"{layout} テスト組織", layout=layout, tz="Asia/Tokyo", lang="ja"
        )
        store.create_account(tenant, "admin", name="管理 太郎", role="admin", password_hash=hashed)
        for person in (ICHIRO, JIRO):
            store.create_account(
                tenant, person["id"], name=person["name"], role="user", password_hash=hashed
            )
        if layout == "cybozu":  # seed 000: Cybozu runs in regions JP, US and CN
            store.update_tenant(tenant, TenantChanges(region="JP"))
        store.append(prepare(events_of(tenant, layout), catalog))
        tenants[layout] = tenant
    return tenants
