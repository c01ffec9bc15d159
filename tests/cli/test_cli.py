"""The kansa command, through its runner, on every engine."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kansa.cli import app
from kansa.store import Store
from tests.raw import execute

runner = CliRunner()


def kansa(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_init_is_idempotent(store_url: str) -> None:
    code, out, _ = kansa("init", "--db", store_url)
    assert code == 0 and "schema already up to date" in out


def test_tenant_create_and_its_mistakes(store_url: str, store: Store, tenant_id: str) -> None:
    code, out, _ = kansa(
        "tenant",
        "create",
        tenant_id,
        "--name",
        "ひかり物流",
        "--layout",
        "kddi-business-id",
        "--tz",
        "Asia/Tokyo",
        "--lang",
        "ja",
        "--db",
        store_url,
    )
    assert code == 0 and tenant_id in out
    tenant = store.get_tenant(tenant_id)
    assert tenant is not None and tenant.layout == "kddi-business-id"
    assert tenant.name == "ひかり物流"
    code, _, err = kansa("tenant", "create", tenant_id, "--db", store_url)
    assert code == 1 and err.strip() == f"kansa: tenant '{tenant_id}' already exists"
    code, _, err = kansa("tenant", "create", tenant_id + "x", "--layout", "nope", "--db", store_url)
    assert code == 2 and "layout: unknown layout 'nope'" in err and "pca-id" in err
    code, _, err = kansa(
        "tenant", "create", tenant_id + "y", "--tz", "Mars/Base", "--db", store_url
    )
    assert code == 2 and "tz: unknown time zone" in err
    code, out, _ = kansa("tenant", "list", "--db", store_url)
    assert code == 0 and tenant_id in out


def test_tenant_region_is_one_a_catalog_names(store_url: str, store: Store, tenant_id: str) -> None:
    code, out, _ = kansa("tenant", "create", tenant_id, "--region", "US", "--db", store_url)
    assert code == 0 and "region US" in out
    assert store.get_tenant(tenant_id).region == "US"  # type: ignore[union-attr]
    code, _, err = kansa("tenant", "update", tenant_id, "--region", "EU", "--db", store_url)
    assert code == 2 and "region: unknown region 'EU'" in err and "CN, JP, US" in err
    code, out, _ = kansa("tenant", "list", "--db", store_url)
    assert f"{tenant_id}\t" in out and "\tUS\t" in out
    code, out, _ = kansa("tenant", "update", tenant_id, "--region", "", "--db", store_url)
    assert code == 0 and store.get_tenant(tenant_id).region is None  # type: ignore[union-attr]


def test_apikey_create_prints_the_key_once_and_stores_its_hash(
    store_url: str, store: Store
) -> None:
    code, out, _ = kansa(
        "apikey",
        "create",
        "--app",
        "KDDI Business ID",
        "--scopes",
        "publish,read",
        "--json",
        "--db",
        store_url,
    )
    assert code == 0
    shown = json.loads(out)
    assert shown["app"] == "KDDI Business ID" and shown["scopes"] == ["publish", "read"]
    assert shown["tenant"] is None
    key_id = shown["key"].split("_")[1]
    stored = store.get_api_key(key_id)
    assert stored is not None and shown["key"].split("_", 2)[2] not in stored.secret_hash
    rows = execute(store_url, "SELECT secret_hash FROM api_keys WHERE id = ?", key_id)
    assert shown["key"] not in str(rows)
    code, _, err = kansa("apikey", "create", "--app", "x", "--scopes", "write", "--db", store_url)
    assert code == 2 and "scopes" in err
    code, _, err = kansa("apikey", "create", "--app", "x", "--tenant", "ghost", "--db", store_url)
    assert code == 2 and "no tenant 'ghost'" in err


def test_demo_then_verify_and_a_tampered_row_is_named(store_url: str, store: Store) -> None:
    code, out, _ = kansa("demo", "--events", "600", "--seed", "7", "--db", store_url)
    assert code == 0 and "stored 600 events" in out
    # Other tests tamper with their own tenants in this database: check the demo's.
    tenant = "hikari-logistics"
    code, out, _ = kansa("verify", "--tenant", tenant, "--db", store_url)
    assert code == 0 and "intact" in out
    ((original,),) = execute(
        store_url, "SELECT actor_name FROM events WHERE tenant_id = ? AND seq = 5", tenant
    )
    execute(  # as an attacker with file access, who takes the triggers out of the way
        store_url,
        "UPDATE events SET actor_name = 'someone else' WHERE tenant_id = ? AND seq = 5",
        tenant,
        bypass_triggers=True,
    )
    code, _, err = kansa("verify", "--tenant", tenant, "--db", store_url)
    assert code == 1
    assert f"tenant {tenant}: chain broken at seq 5" in err
    execute(
        store_url,
        "UPDATE events SET actor_name = ? WHERE tenant_id = ? AND seq = 5",
        original,
        tenant,
        bypass_triggers=True,
    )
    code, _, _ = kansa("verify", "--tenant", tenant, "--db", store_url)
    assert code == 0


def test_demo_if_empty_adds_nothing_to_a_filled_database(store_url: str) -> None:
    kansa("demo", "--events", "50", "--seed", "8", "--db", store_url)
    code, out, _ = kansa("demo", "--events", "50", "--if-empty", "--db", store_url)
    assert code == 0 and "nothing added" in out


def test_a_bad_database_url_is_one_line(tmp_path: object) -> None:
    code, _, err = kansa("init", "--db", "mysql://nowhere")
    assert code == 2 and err.startswith("kansa: unsupported database URL")
    assert "Traceback" not in err


def test_account_create_with_a_generated_or_given_password(
    store_url: str, store: Store, tenant_id: str
) -> None:
    store.create_tenant(tenant_id, name=None, layout="pca-id", tz="Asia/Tokyo", lang="ja")
    code, out, _ = kansa(
        "account",
        "create",
        "--tenant",
        tenant_id,
        "--login",
        "ichiro",
        "--role",
        "admin",
        "--name",
        "飯田橋 一郎",
        "--db",
        store_url,
    )
    assert code == 0 and "password: " in out
    password = out.split("password: ")[1].split()[0]
    account = store.get_account(tenant_id, "ichiro")
    assert account is not None and account.role == "admin" and account.name == "飯田橋 一郎"
    assert password not in account.password_hash and account.password_hash.startswith("$argon2id$")
    result = runner.invoke(
        app,
        [
            "account",
            "create",
            "--tenant",
            tenant_id,
            "--login",
            "jiro",
            "--role",
            "user",
            "--password-stdin",
            "--db",
            store_url,
        ],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0 and "password:" not in result.stdout
    code, _, err = kansa(
        "account",
        "create",
        "--tenant",
        tenant_id,
        "--login",
        "jiro",
        "--role",
        "user",
        "--db",
        store_url,
    )
    assert code == 1 and "already exists" in err
    code, _, err = kansa(
        "account",
        "create",
        "--tenant",
        tenant_id,
        "--login",
        "x",
        "--role",
        "owner",
        "--db",
        store_url,
    )
    assert code == 2 and "role" in err


def test_tenant_update_switches_recording_of_searches(
    store_url: str, store: Store, tenant_id: str
) -> None:
    store.create_tenant(tenant_id, name=None, layout="pca-id", tz="Asia/Tokyo", lang="ja")
    code, out, _ = kansa(
        "tenant", "update", tenant_id, "--record-searches", "--lang", "en", "--db", store_url
    )
    assert code == 0 and "searches recorded" in out
    tenant = store.get_tenant(tenant_id)
    assert tenant is not None and tenant.record_searches and tenant.lang == "en"
    code, _, err = kansa("tenant", "update", "ghost-tenant", "--lang", "ja", "--db", store_url)
    assert code == 2 and "no tenant" in err
