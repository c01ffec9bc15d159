"""The shipped KDDI Business ID catalog covers every pattern of the KDDI log manual (ver. 2.3.4)."""

from __future__ import annotations

from collections import Counter

import pytest

from kansa.catalog.loader import SHIPPED_DIR, load_product
from kansa.catalog.model import EventType, Product

PATH = SHIPPED_DIR / "kddi-business-id.toml"

# 3.2.1–3.2.30 (the manual numbers 3.2.11–3.2.15 as 3.2.1.1–3.2.1.5).
OPERATION_LABELS = [
    "ユーザ追加",
    "パスワード再設定",
    "ユーザステータス変更",
    "ユーザ情報変更",
    "ユーザー一括処理",
    "ユーザ削除",
    "ユーザへサービス登録",
    "ユーザのサービス情報変更",
    "ユーザのサービス登録解除",
    "FIDO 認証器管理",
    "組織管理",
    "組織一括処理",
    "LINE WORKS 組織連携",
    "SSO 設定",
    "SSO サービス追加",
    "SSO アイコン押下",
    "ユーザ SSO 利用開始（メール経由）",
    "ログイン条件",
    "ブラウザ制限 申請処理",
    "ブラウザ申請",
    "社内 IP アドレス設定",
    "パスワード強度設定",
    "FIDO 設定",
    "通知先メールアドレス変更",
    "パスワード変更",
    "ワンタイムパスワード再設定",
    "ベーシックパックプラス適用対象外通知メール設定",
    "認証情報設定",
    "代表管理者変更",
    "外部 IdP 関連設定",
]

GROUPS = {
    "user-management": "ユーザ管理",
    "organization": "組織管理",
    "sso": "SSO 関連",
    "security": "セキュリティ関連",
    "self-service": "ユーザによる情報変更",
    "admin-change": "代表管理者変更",
    "idp": "Active Directory 関連設定",
}

SERVICES = [
    "Google Workspace",
    "Microsoft 365",
    "LINE WORKS with KDDI",
    "Cisco Webex with KDDI",
    "KDDI SD-Network Platform",
    "KDDI Smart Mobile Safety Manager",
    "KDDI ファイルストレージ",
    "KDDI SMART アドレス帳",
    "KDDI Knowledge Suite",
    "F-Secure FREEDOME",
    "Splashtop smart",
]

PROVISIONING = {
    "provision.user.create": "ユーザ登録",
    "provision.user.create.ad": "ユーザ登録[AD]",
    "provision.user.create.azure_ad": "ユーザ登録[Azure AD]",
    "provision.user.update": "ユーザ情報変更",
    "provision.user.update.ad": "ユーザ情報変更[AD]",
    "provision.user.update.azure_ad": "ユーザ情報変更[Azure AD]",
    "provision.user.delete": "ユーザ削除",
    "provision.user.delete.ad": "ユーザ削除[AD]",
    "provision.user.delete.azure_ad": "ユーザ削除[Azure AD]",
    "provision.org.sync": "組織同期",
    "provision.org.sync.ad": "組織同期[AD]",
}


@pytest.fixture(scope="module")
def product() -> Product:
    return load_product(PATH)


def of(product: Product, history: str) -> list[EventType]:
    return [e for e in product.events.values() if e.history == history]


def test_product(product: Product) -> None:
    assert product.id == "kddi-business-id"
    assert product.name == "KDDI Business ID"
    assert product.apps == ("KDDI Business ID",)
    assert product.retention_days == {"login": 365, "operation": 365, "provisioning": 365}
    assert {e.history for e in product.events.values()} == {"login", "operation", "provisioning"}


def test_login_patterns(product: Product) -> None:
    login = of(product, "login")
    assert len(login) == 30
    assert Counter(r for e in login for r in e.results) == {
        "success": 20,
        "failure": 9,
        "locked": 1,
    }
    assert all(len(e.results) == 1 and e.category == "login" for e in login)
    assert product.results["success"].ja == "ログイン成功"
    assert product.results["failure"].ja == "ログインNG"
    assert product.results["locked"].ja == "アカウントロック"
    levels = {"success": "info", "failure": "warning", "locked": "important"}
    for e in login:
        assert e.level == levels[e.results[0]], e.action
        assert e.screen == {"admin", "user"} and e.csv == {"admin"}
        assert e.message.required == {"ip"} and e.message.optional == {"os"}, e.action
    numbers = sorted(int(e.description.split(":")[0].removeprefix("No. ")) for e in login)
    assert numbers == list(range(1, 31))


def test_login_messages(product: Product) -> None:
    et = product.events["login.password_otp"]
    values = {"ip": "12.34.56.78", "os": "Windows"}
    assert (
        et.template_for("success").render("ja", values)
        == "ID/パスワード+ワンタイムパスワード認証による認証成功[12.34.56.78 Windows]"
    )
    assert (
        et.template_for("success").render("en", values)
        == "Authenticated with ID/password + one-time password [12.34.56.78 Windows]"
    )
    locked = product.events["login.locked.password_retries"]
    assert locked.results == ("locked",)
    assert (
        locked.template_for("locked").render("ja", values)
        == "一定回数パスワード入力誤り[12.34.56.78 Windows]"
    )
    failed = product.events["login.failed.external_ip"]
    assert "※1" in failed.description
    assert (
        failed.template_for("failure").render("ja", values)
        == "社外 IP アドレスからのアクセス不許可[12.34.56.78 Windows]"
    )


def test_operation_labels(product: Product) -> None:
    operation = of(product, "operation")
    labels = {e.label.ja for e in operation}
    assert labels == set(OPERATION_LABELS)
    assert len(OPERATION_LABELS) == 30
    assert all(e.results == ("done",) for e in operation)
    assert all(e.description for e in operation)


def test_operation_groups(product: Product) -> None:
    assert {k: v.ja for k, v in product.groups.items()} == GROUPS
    operation = of(product, "operation")
    assert all(e.group in GROUPS and e.category == e.group for e in operation)
    assert set(Counter(e.group for e in operation)) == set(GROUPS)
    for key, label in GROUPS.items():
        assert product.categories[key].ja == label
    assert product.events["admin.change"].group == "admin-change"
    assert product.events["idp.ad.change"].group == "idp"


def test_operation_screens(product: Product) -> None:
    # a general user sees their own login history only (the manual gives them nothing else)
    assert {e.history for e in product.events.values() if "user" in e.screen} == {"login"}
    assert product.events["self.password.change"].screen == {"admin"}
    assert product.events["user.add"].screen == {"admin"}
    assert product.events["admin.change"].level == "important"
    assert product.events["user.add"].level == "info"


def test_operation_messages(product: Product) -> None:
    events = product.events
    assert (
        events["user.add"].template_for("done").render("ja", {"target_id": "taro@example.jp"})
        == "ユーザ「taro@example.jp」を追加しました。"
    )
    assert (
        events["user.bulk_delete"].template_for("done").render("ja", {"count": 12})
        == "ユーザの一括削除を実行しました。[12件]"
    )
    moved = events["org.user.move"].template_for("done")
    assert moved.required == {"from_org", "to_org"}
    assert (
        moved.render("ja", {"from_org": "営業部", "to_org": "開発部"})
        == "組織「営業部」から組織「開発部」へユーザを移動しました。"
    )
    assert (
        events["security.browser.approve"].template_for("done").render("ja", {"target_id": "u1"})
        == "ブラウザ制限の申請を承認しました。[申請者:u1]"
    )
    # 3.2.28 lists one row twice; it is one action.
    credential = [e for e in of(product, "operation") if e.label.ja == "認証情報設定"]
    assert len(credential) == 7
    assert len({e.message.ja for e in credential}) == 7


def test_services(product: Product) -> None:
    assert list(product.values["service"]) == SERVICES


def test_provisioning_actions(product: Product) -> None:
    provisioning = of(product, "provisioning")
    assert {e.action: e.label.ja for e in provisioning} == PROVISIONING
    for e in provisioning:
        assert e.category == "provisioning" and e.screen == {"admin"}
        assert "service" in e.params
        if e.action.startswith("provision.user."):
            assert e.results == ("processing", "ok", "ng", "cancel")
        else:
            assert e.results == ("processing", "ok", "ng")
    assert product.results["processing"].ja == "処理中"
    assert product.results["processing"].en == "Processing"


def test_provisioning_messages(product: Product) -> None:
    user = product.events["provision.user.update.ad"]
    assert user.template_for("ok").render("ja", {}) == ""
    assert user.template_for("processing").render("ja", {}) == ""
    assert user.template_for("ng").render("ja", {"reason": "quota exceeded"}) == "quota exceeded"
    assert user.level_for("ng") == "warning"
    assert (
        user.template_for("cancel").render("ja", {})
        == "ユーザに対して別のサービス連携処理が開始されたためキャンセルしました。"
    )
    sync = product.events["provision.org.sync"]
    counts = {"ok": 10, "ng": 0, "aborted": 0}
    assert sync.template_for("ok").render("ja", counts) == "OK: 10 NG: 0 中断: 0"
    assert sync.template_for("ng").render("en", counts) == "OK: 10 NG: 0 Aborted: 0"
    assert sync.template_for("processing").render("ja", {}) == ""
