"""The shipped catalogs of the four products cover what the products' own manuals list.

Expected values are copied from those manuals (Cybozu Garoon and cybozu.com, microCMS, PCA
ID), not from the TOML files.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kansa.catalog.loader import SHIPPED_DIR, load_catalog, load_product
from kansa.catalog.model import Product


def _load(name: str) -> Product:
    return load_product(Path(SHIPPED_DIR) / name)


@pytest.fixture(scope="module")
def cybozu() -> Product:
    return _load("cybozu.toml")


@pytest.fixture(scope="module")
def microcms() -> Product:
    return _load("microcms.toml")


@pytest.fixture(scope="module")
def pca() -> Product:
    return _load("pca-id.toml")


def test_the_three_catalogs_load_together() -> None:
    catalog = load_catalog(
        [SHIPPED_DIR / "cybozu.toml", SHIPPED_DIR / "microcms.toml", SHIPPED_DIR / "pca-id.toml"]
    )
    assert set(catalog.products) == {"cybozu", "microcms", "pca-id"}
    assert catalog.product_of_app("Garoon") == catalog.products["cybozu"]
    assert catalog.product_of_app("microCMS") == catalog.products["microcms"]
    assert catalog.product_of_app("PCA ID 管理コンソール") == catalog.products["pca-id"]


# --- Cybozu Garoon and cybozu.com ------------------------------------------------------------

CYBOZU_ACTIONS = {
    # the manual: client certificates, all 重要 and SUCCESS only
    "download certificate": ("System Administration", "important", {"success"}),  # or User Profile
    "create certificate": ("System Administration", "important", {"success"}),
    "bulk download certificate": ("System Administration", "important", {"success"}),
    "send mobile setting mail": ("User Profile", "important", {"success"}),
    "send browser certificate in mail": ("User Profile", "important", {"success"}),
    # the manual: Notice
    "reset password": ("System Administration", "important", {"success"}),
    "send password reset mail": ("System Administration", "important", {"success", "failure"}),
    # the manual: Information
    "login": ("System Administration", "info", {"success", "failure"}),
    "login API": ("System Administration", "info", {"failure"}),  # the manual: login API(%s)
    "login (SAML)": ("System Administration", "info", {"success"}),
    "login (session-less)": ("System Administration", "info", {"success", "failure"}),
    "logout": ("System Administration", "info", {"success"}),
    "logout (SAML)": ("System Administration", "info", {"success"}),
    "change password": ("User Profile", "info", {"success"}),
}


def test_cybozu_product(cybozu: Product) -> None:
    assert cybozu.name == "Cybozu Garoon"
    assert cybozu.apps == ("Garoon", "cybozu.com")
    assert cybozu.retention_days == {}
    assert cybozu.results["success"].ja == cybozu.results["success"].en == "SUCCESS"
    assert cybozu.results["failure"].ja == cybozu.results["failure"].en == "FAILED"
    assert cybozu.values["reason"] == ("unregistered", "duplicated")


def test_cybozu_has_every_seed_action(cybozu: Product) -> None:
    assert set(cybozu.events) == set(CYBOZU_ACTIONS)
    for action, (module, level, results) in CYBOZU_ACTIONS.items():
        et = cybozu.events[action]
        assert (et.module, et.level, set(et.results)) == (module, level, results), action


def test_cybozu_categories_and_histories(cybozu: Product) -> None:
    by_category = {
        c: {a for a, et in cybozu.events.items() if et.category == c} for c in cybozu.categories
    }
    assert by_category["certificate"] == {
        "download certificate",
        "create certificate",
        "bulk download certificate",
        "send mobile setting mail",
        "send browser certificate in mail",
    }
    assert by_category["password"] == {
        "reset password",
        "send password reset mail",
        "change password",
    }
    for action, et in cybozu.events.items():
        expected = "login" if action.startswith(("login", "logout")) else "operation"
        assert et.history == expected, action


def test_cybozu_visibility(cybozu: Product) -> None:
    for action, et in cybozu.events.items():
        both = action.startswith(("login", "logout")) or action == "change password"
        assert et.screen == ({"admin", "user"} if both else {"admin"}), action
        assert et.csv == {"admin"}, action


def test_cybozu_complements(cybozu: Product) -> None:
    download = cybozu.events["download certificate"].template_for("success")
    values = {"target": "佐藤 昇", "target_id": "42"}
    assert download.render("ja", values) == "佐藤 昇（42）"
    assert download.render("en", values) == "佐藤 昇 (42)"

    create = cybozu.events["create certificate"]
    assert {"targets", "valid_from", "valid_until"} <= create.required_params("success")

    mail = cybozu.events["send mobile setting mail"].template_for("success")
    assert mail.render("en", {"email": "a@example.com"}) == "a@example.com"

    reset = cybozu.events["send password reset mail"]
    assert reset.required_params("success") == {"email", "target", "target_id"}
    assert reset.required_params("failure") == {"email", "reason"}
    failed = reset.template_for("failure").render("en", {"email": "a@x", "reason": "duplicated"})
    assert failed == "a@x duplicated"

    login = cybozu.events["login"]
    assert login.required_params("success") == frozenset()
    assert login.template_for("failure").render("ja", {"login_name": "sato"}) == "sato"

    api = cybozu.events["login API"]
    assert api.shown_code({"api": "REST"}) == "login API(REST)"
    assert api.title("en", {"api": "REST"}) == "login API(REST)"
    assert api.required_params("failure") == {"api", "login_name"}


def test_download_certificate_is_logged_by_either_module(cybozu: Product) -> None:
    download = cybozu.events["download certificate"]
    assert download.modules == ("System Administration", "User Profile")
    assert download.module_of({"module": "User Profile"}) == "User Profile"


def test_cybozu_levels_and_regions_in_its_own_words(cybozu: Product) -> None:
    assert cybozu.levels["important"].en == "Notice"
    assert cybozu.levels["info"].en == "Information"
    assert cybozu.regions == ("JP", "US", "CN")


# --- microCMS ----------------

# 対象 -> number of 操作内容 the manual lists for it
MICROCMS_COUNTS = {
    "service": 6,  # 作成、削除、更新、IDの更新、言語設定の更新、2要素認証必須化の更新
    "api": 4,  # 作成、更新、削除、APIの説明の更新
    "api_group": 3,  # 作成、名称変更、削除
    "api_key": 3,
    "custom_field": 3,
    "custom_status": 3,  # 追加、更新、削除
    "webhook_content": 3,
    "webhook_media": 3,
    "content": 15,
    "media": 5,  # 追加、更新、削除、メディア名の更新、メディアタグの更新
    "media_tag": 3,
    "member": 5,  # 追加、招待、削除、招待のキャンセル、ロール権限の更新
    "role": 3,
    "review": 8,
    "environment": 3,  # 作成、削除、環境名の更新
    "billing": 8,
    "plan": 4,  # プラン変更、再開、停止、アドオン追加
}

MICROCMS_CATEGORY_JA = {
    "service": "サービス",
    "api": "API",
    "api_group": "APIグループ",
    "api_key": "APIキー",
    "custom_field": "カスタムフィールド",
    "custom_status": "カスタムステータス",
    "webhook_content": "Webhook（コンテンツ）",
    "webhook_media": "Webhook（メディア）",
    "content": "コンテンツ",
    "media": "メディア",
    "media_tag": "メディアタグ",
    "member": "メンバー",
    "role": "ロール",
    "review": "レビュー",
    "environment": "複数環境",
    "billing": "お支払い情報",
    "plan": "プラン",
}

MICROCMS_FIELDS = {
    "api_key_id": "対象APIキー ID",
    "api_key_name": "対象APIキー名",
    "api_id": "対象API ID",
    "api_name": "対象API名",
    "content_id": "対象コンテンツID",
    "content_custom_id": "対象コンテンツID（ユーザー定義）",
    "media_id": "対象メディアID",
    "media_name": "対象メディア名",
    "media_tag_id": "対象メディアタグID",
    "media_tag_name": "対象メディアタグ名",
    "member": "対象メンバー",
    "role_id": "対象ロールID",
    "role_name": "対象ロール名",
    "custom_field_name": "対象カスタムフィールド名",
    "custom_status_id": "対象カスタムステータスID",
    "custom_status_name": "対象カスタムステータス名",
    "reviewer": "対象レビュアー",
    "review_id": "対象レビュー申請ID",
    "review_title": "対象レビュー申請タイトル",
    "environment_service_id": "対象環境サービスID",
    "environment_name": "対象環境名",
    "environment_domain": "対象環境ドメイン",
    "new_author": "新しい作成者",
    "email": "メールアドレス",
    "publish_at": "開始予約日時",
    "unpublish_at": "停止予約日時",
    "csv_import_count": "CSVインポートデータ数",
    "csv_import_saved_at": "CSVインポートデータ保存日時",
}


def test_microcms_product(microcms: Product) -> None:
    assert (microcms.name, microcms.apps) == ("microCMS", ("microCMS",))
    assert microcms.retention_days == {}
    assert set(microcms.results) == {"success"}
    assert microcms.results["success"].as_dict() == {"ja": "成功", "en": "Success"}


def test_microcms_one_action_per_listed_operation(microcms: Product) -> None:
    assert {c: label.ja for c, label in microcms.categories.items()} == MICROCMS_CATEGORY_JA
    counts = Counter(et.category for et in microcms.events.values())
    assert counts == MICROCMS_COUNTS
    assert len(microcms.events) == sum(MICROCMS_COUNTS.values()) == 82
    for action, et in microcms.events.items():
        assert action.startswith(et.category + "."), action
        assert et.history == "operation"
        assert et.results == ("success",)
        assert et.screen == et.csv == {"admin"}
        assert not et.message.required, f"{action}: microCMS fields are optional"
    for action in (
        "service.create",
        "service.id.update",
        "service.language.update",
        "service.two_factor_required.update",
        "content.draft.delete",
        "content.bulk_author.update",
        "content.csv_import.complete",
        "plan.addon.add",
    ):
        assert action in microcms.events


def test_microcms_fields(microcms: Product) -> None:
    assert len(microcms.fields) == 28
    assert {n: label.ja for n, label in microcms.fields.items()} == MICROCMS_FIELDS


def test_microcms_levels(microcms: Product) -> None:
    events = microcms.events
    for action in ("service.delete", "api.delete", "api_key.delete", "environment.delete"):
        assert events[action].level == "important", action
    for category in ("member", "role", "billing", "plan"):
        for et in events.values():
            if et.category == category:
                assert et.level == "important", et.action
    for action in ("service.create", "content.update", "media.add", "review.create"):
        assert events[action].level == "info", action


def test_microcms_messages(microcms: Product) -> None:
    created = microcms.events["api_key.create"].template_for("success")
    assert created.render("ja", {"api_key_name": "本番用"}) == "APIキー「本番用」を作成"
    assert created.render("ja", {}) == "APIキー「」を作成"
    label = microcms.events["content.draft.delete"].label
    assert label.ja == "下書きの削除"


# --- PCA ID ----------------


def test_pca_product(pca: Product) -> None:
    assert pca.name == "PCA ID"
    assert pca.apps == ("PCA Hub", "PCA ID アカウント設定", "PCA ID 管理コンソール")
    assert pca.retention_days == {"login": 730, "operation": 730}
    assert pca.results["success"].ja == "成功"
    assert pca.results["failure"].ja == "失敗"
    assert {c: label.ja for c, label in pca.categories.items()} == {
        "org": "組織",
        "user": "ユーザー",
        "auth": "認証",
    }


def test_pca_one_action_per_seed_row(pca: Product) -> None:
    counts = Counter(et.category for et in pca.events.values())
    assert counts == {"org": 13, "user": 32, "auth": 4}
    for action, et in pca.events.items():
        assert action.startswith(et.category + "."), action
        assert et.history == ("login" if et.category == "auth" else "operation"), action


def test_pca_results_and_error_level(pca: Product) -> None:
    for action, et in pca.events.items():
        if action == "auth.login_failed":
            assert et.results == ("failure",)
            assert et.level_for("failure") == "warning"
            assert et.result_levels == {}
        else:
            assert et.results == ("success", "failure"), action
            assert et.level_for("failure") == "error", action


@pytest.mark.parametrize(
    ("action", "level", "label"),
    [
        ("org.create", "important", "作成"),
        ("org.update", "info", "更新"),
        ("org.merge.request_cancel", "info", "組織統合リクエストの取消"),
        ("org.merge.complete", "important", "組織統合の完了"),
        ("user.create", "info", "作成"),
        ("user.disable", "important", "無効化"),
        ("user.password.change", "important", "パスワードの変更"),
        ("user.email.change", "important", "メールアドレスの変更"),
        ("user.email.change_by_admin", "important", "メールアドレスの変更"),
        ("user.sync", "info", "ユーザー情報の同期"),
        ("auth.login", "info", "ログイン"),
        ("auth.login_failed", "warning", "ログイン失敗"),
        ("auth.session_refresh", "info", "セッションの更新"),
    ],
)
def test_pca_levels_and_labels(pca: Product, action: str, level: str, label: str) -> None:
    et = pca.events[action]
    assert (et.level, et.label.ja) == (level, label)


def test_pca_messages(pca: Product) -> None:
    et = pca.events["user.create"]
    assert et.template_for("success").render("ja", {"login": "jiro"}) == "ユーザー[jiro]を作成"
    assert et.template_for("success").render("en", {"login": "jiro"}) == "Created user [jiro]"
    assert et.required_params("success") == {"login"}

    org = pca.events["org.rename"].template_for("success")
    assert org.render("ja", {"org": "iidabashi-company"}) == "組織[iidabashi-company]の組織名を変更"

    merge = pca.events["org.merge.request"]
    values = {"source_org": "A社", "target_org": "B社"}
    assert merge.template_for("success").render("ja", values) == (
        "組織[A社]から組織[B社]への統合リクエストを送信"
    )
    assert merge.description == "※統合元組織"
    assert pca.events["org.merge.accept"].description == "※統合先組織"

    self_change = pca.events["user.email.change"].template_for("success")
    assert self_change.render("ja", {}) == "自身のメールアドレスを変更"
    by_admin = pca.events["user.email.change_by_admin"].template_for("success")
    assert by_admin.render("ja", {"login": "jiro"}) == "ユーザー[jiro]のメールアドレスを変更"

    mail = pca.events["user.password.notice_mail.send"].template_for("success")
    assert mail.render("ja", {}) == "パスワード変更通知メールを送信（自動）"
    assert pca.events["auth.login"].template_for("success").render("ja", {}) == "ログインに成功"


def test_pca_visibility(pca: Product) -> None:
    on_both_screens = {
        "user.password.change",
        "user.email.change",
        "user.backup_code.issue",
        "user.passkey.register",
    }
    for action, et in pca.events.items():
        assert et.csv == {"admin"}, action
        if et.category == "org":
            assert et.screen == frozenset(), action
        elif et.category == "auth" or action in on_both_screens:
            assert et.screen == {"admin", "user"}, action
        else:
            assert et.screen == frozenset(), action
    # the manual lists passkey deletion as CSV only, unlike registration
    assert pca.events["user.passkey.delete"].screen == frozenset()
