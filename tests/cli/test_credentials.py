"""``kansa apikey``, ``kansa account`` and ``kansa tenant`` after creation, through the
runner, on every engine: listings in JSON, changes recorded, unknown names exit 2, a
repeated revocation exits 1."""

from __future__ import annotations

import json

from kansa.store import Store
from tests.access.test_manage import own_actions
from tests.cli.test_cli import kansa


def test_a_key_is_listed_rotated_and_revoked(store_url: str, store: Store, tenant_id: str) -> None:
    assert kansa("tenant", "create", tenant_id, "--db", store_url)[0] == 0
    code, out, _ = kansa(
        "apikey", "create", "--app", "PCA Hub", "--tenant", tenant_id, "--scopes", "publish,read",
        "--expires-in-days", "30", "--json", "--db", store_url,
    )  # fmt: skip
    assert code == 0
    made = json.loads(out)
    assert made["expires_at"] is not None and made["key"].startswith(f"kansa_{made['id']}_")
    code, out, _ = kansa("apikey", "list", "--tenant", tenant_id, "--json", "--db", store_url)
    (listed,) = json.loads(out)
    assert code == 0 and listed["id"] == made["id"] and listed["scopes"] == ["publish", "read"]
    assert made["key"].split("_", 2)[2] not in out  # the secret may hold "_"
    code, out, _ = kansa("apikey", "rotate", made["id"], "--overlap-minutes", "0", "--json",
                         "--db", store_url)  # fmt: skip
    assert code == 0 and json.loads(out)["key"] != made["key"]
    assert kansa("apikey", "revoke", made["id"], "--db", store_url)[0] == 0
    code, _, err = kansa("apikey", "revoke", made["id"], "--db", store_url)
    assert code == 1 and "revoked already" in err
    code, out, _ = kansa("apikey", "show", made["id"], "--json", "--db", store_url)
    assert code == 0 and json.loads(out)["revoked_at"] is not None
    assert kansa("apikey", "show", "000000000000", "--db", store_url)[0] == 2
    assert kansa("apikey", "list", "--tenant", "no-such", "--db", store_url)[0] == 2
    assert [a for a, _ in own_actions(store, tenant_id)] == ["apikey.rotate", "apikey.revoke"]


def test_an_account_is_listed_disabled_re_roled_and_given_a_password(
    store_url: str, store: Store, tenant_id: str
) -> None:
    assert kansa("tenant", "create", tenant_id, "--db", store_url)[0] == 0
    create = ("account", "create", "--tenant", tenant_id, "--login", "jiro", "--role", "admin")
    assert kansa(*create, "--db", store_url)[0] == 0
    who = ("--tenant", tenant_id, "jiro", "--db", store_url)
    assert kansa("account", "disable", *who)[0] == 0
    code, out, _ = kansa("account", "list", "--tenant", tenant_id, "--json", "--db", store_url)
    (listed,) = json.loads(out)
    assert listed["disabled_at"] is not None and "password" not in out
    assert kansa("account", "enable", *who)[0] == 0
    assert kansa("account", "set-role", *who, "--role", "user")[0] == 0
    assert kansa("account", "set-role", *who, "--role", "root")[0] == 2
    assert kansa("account", "unlock", *who)[0] == 0
    code, out, _ = kansa("account", "reset-password", *who)
    assert code == 0 and "password: " in out
    assert kansa("account", "disable", "--tenant", tenant_id, "nobody", "--db", store_url)[0] == 2
    assert [a for a, _ in own_actions(store, tenant_id)] == [
        "account.disable",
        "account.enable",
        "account.role_change",
        "account.unlock",
        "account.password_reset",
    ]


def test_a_tenant_is_shown_and_retired(store_url: str, tenant_id: str) -> None:
    assert kansa("tenant", "create", tenant_id, "--db", store_url)[0] == 0
    retire = ("tenant", "retire", tenant_id, "--reason", "typo", "--db", store_url)
    assert kansa(*retire)[0] == 0
    assert kansa(*retire)[0] == 1  # retired already
    code, out, _ = kansa("tenant", "show", tenant_id, "--json", "--db", store_url)
    shown = json.loads(out)
    assert code == 0 and shown["retired_reason"] == "typo" and shown["last_seq"] == 1
    code, out, _ = kansa("tenant", "list", "--json", "--db", store_url)
    assert code == 0 and tenant_id in [t["id"] for t in json.loads(out)]
    assert kansa("tenant", "show", "no-such", "--db", store_url)[0] == 2
    assert kansa("tenant", "retire", "no-such", "--reason", "x", "--db", store_url)[0] == 2
