"""Credentials managed after they are made, on every engine: keys revoked, rotated with an
overlap, expired and seen in use; accounts disabled, enabled, re-roled, unlocked and given a
new password; tenants retired — each change recorded in the tenant's own log."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from kansa.access import manage
from kansa.access.accounts import Lockout, hash_password, sign_in
from kansa.access.keys import make_key
from kansa.access.readers import RECHECK_SECONDS, KeyCache
from kansa.access.sessions import is_ended
from kansa.catalog import Catalog
from kansa.errors import AuthError, Conflict, NotFound
from kansa.events.query import Filters, Query
from kansa.store import Store, open_store
from kansa.timeutil import utcnow
from tests.helpers import password_hash

OPERATOR = {"id": "operator:test", "name": "test", "type": "operator"}
PASSWORD = "correct horse battery staple"


def own_actions(store: Store, tenant: str) -> list[tuple[str, dict[str, object]]]:
    """kansa's own admin events of the tenant, oldest first: (action, params)."""
    query = Query(tenant=tenant, filters=Filters(categories=("admin",)), descending=False)
    return [(e["action"], dict(e["params"])) for e in store.stream(query)]


def bound_key(store: Store, tenant: str, **options: object) -> tuple[str, str]:
    """A key bound to ``tenant``: (id, token)."""
    store.create_tenant(tenant, name=None, layout=None, tz="Asia/Tokyo", lang="ja")
    key = make_key()
    store.create_api_key(
        key.id,
        app="PCA Hub",
        tenant=tenant,
        scopes=frozenset({"publish"}),
        secret_hash=key.secret_hash,
        **options,  # type: ignore[arg-type]
    )
    return key.id, f"Bearer {key.token}"


def test_a_revoked_key_is_refused_by_another_cache_within_a_second(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    key_id, header = bound_key(store, tenant_id)
    other = open_store(store_url)  # another process's store and cache
    try:
        cache = KeyCache(other, ttl=3600)
        assert cache.authenticate(header).id == key_id
        assert cache.cached(header) is not None  # trusted from the cache, no read
        manage.revoke_key(store, catalog, key_id, OPERATOR, now=utcnow())
        deadline = time.monotonic() + RECHECK_SECONDS + 0.5
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                if cache.cached(header) is None:
                    cache.authenticate(header)
            except AuthError:
                refused = True
            time.sleep(0.05)
        assert refused, "the revoked key was still trusted after a second"
    finally:
        other.close()
    with pytest.raises(Conflict, match="revoked already"):
        manage.revoke_key(store, catalog, key_id, OPERATOR, now=utcnow())
    assert own_actions(store, tenant_id) == [
        ("apikey.revoke", {"key_id": key_id, "app": "PCA Hub"})
    ]


def test_a_rotated_key_takes_its_new_secret_and_the_old_one_for_the_overlap_only(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    key_id, old = bound_key(store, tenant_id)
    now = utcnow()
    rotated, fresh = manage.rotate_key(
        store, catalog, key_id, OPERATOR, overlap_minutes=10, now=now
    )
    assert fresh.id == key_id and rotated.previous_until == now + timedelta(minutes=10)
    cache = KeyCache(store, ttl=0)
    assert cache.authenticate(f"Bearer {fresh.token}").id == key_id
    assert cache.authenticate(old).id == key_id  # within the overlap
    manage.rotate_key(store, catalog, key_id, OPERATOR, overlap_minutes=0, now=utcnow())
    for header in (old, f"Bearer {fresh.token}"):  # the secret replaced twice, then the last
        with pytest.raises(AuthError):
            KeyCache(store, ttl=0).authenticate(header)
    assert [a for a, _ in own_actions(store, tenant_id)] == ["apikey.rotate", "apikey.rotate"]


def test_an_expired_key_is_refused(store: Store, tenant_id: str) -> None:
    _, header = bound_key(store, tenant_id, expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(AuthError, match="expired"):
        KeyCache(store).authenticate(header)


def test_last_use_is_written_once_a_minute_at_most(store: Store, tenant_id: str) -> None:
    key_id, header = bound_key(store, tenant_id)
    cache = KeyCache(store, ttl=0)
    cache.authenticate(header)
    cache._recheck_at = 0.0  # the next request rechecks at once
    cache.authenticate(header)
    first = store.get_api_key(key_id)
    assert first is not None and first.last_used_at is not None
    cache._recheck_at = 0.0
    cache.authenticate(header)
    again = store.get_api_key(key_id)
    assert again is not None and again.last_used_at == first.last_used_at  # not a minute yet


def test_a_bound_operator_reaches_no_other_tenants_key(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    key_id, _ = bound_key(store, tenant_id)
    with pytest.raises(NotFound):
        manage.revoke_key(store, catalog, key_id, OPERATOR, now=utcnow(), within="elsewhere")
    with pytest.raises(NotFound):
        manage.revoke_key(store, catalog, "000000000000", OPERATOR, now=utcnow())


def test_account_changes_end_its_sessions_and_are_recorded(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    store.create_tenant(tenant_id, name=None, layout=None, tz="Asia/Tokyo", lang="ja")
    store.create_account(
        tenant_id, "jiro", name="二郎", role="admin", password_hash=password_hash(PASSWORD)
    )
    policy = Lockout(max_failures=1)
    began = utcnow() - timedelta(seconds=1)

    def change(action: manage.AccountAction, **options: str) -> None:
        manage.change_account(
            store, catalog, tenant_id, "jiro", action, OPERATOR, now=utcnow(), **options
        )

    change("disable")
    assert is_ended(store, tenant_id, "s-1", began, "jiro")
    with pytest.raises(AuthError, match="disabled"):
        sign_in(store, tenant_id, "jiro", PASSWORD, now=utcnow(), policy=policy)
    change("enable")
    assert sign_in(store, tenant_id, "jiro", PASSWORD, now=utcnow(), policy=policy).role == "admin"
    change("set-role", role="user")
    with pytest.raises(AuthError, match="locked"):
        sign_in(store, tenant_id, "jiro", "wrong password", now=utcnow(), policy=policy)
    change("unlock")
    assert sign_in(store, tenant_id, "jiro", PASSWORD, now=utcnow(), policy=policy).role == "user"
    change("reset-password", password_hash=hash_password("another long password"))
    with pytest.raises(AuthError):
        sign_in(store, tenant_id, "jiro", PASSWORD, now=utcnow(), policy=policy)
    assert own_actions(store, tenant_id) == [
        ("account.disable", {"login": "jiro"}),
        ("account.enable", {"login": "jiro"}),
        ("account.role_change", {"login": "jiro", "role": "user"}),
        ("account.unlock", {"login": "jiro"}),
        ("account.password_reset", {"login": "jiro"}),
    ]
    with pytest.raises(NotFound):
        manage.change_account(
            store, catalog, tenant_id, "nobody", "disable", OPERATOR, now=utcnow()
        )


def test_a_retired_tenant_keeps_its_log_and_says_why(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    store.create_tenant(tenant_id, name=None, layout=None, tz="Asia/Tokyo", lang="ja")
    retired = manage.retire_tenant(store, catalog, tenant_id, "typo", OPERATOR, now=utcnow())
    assert retired.retired_at is not None and retired.retired_reason == "typo"
    assert tenant_id in store.retired_tenants()
    assert own_actions(store, tenant_id) == [("tenant.retire", {"reason": "typo"})]
    with pytest.raises(Conflict):
        manage.retire_tenant(store, catalog, tenant_id, "again", OPERATOR, now=utcnow())
    with pytest.raises(NotFound):
        manage.retire_tenant(store, catalog, tenant_id + "-x", "typo", OPERATOR, now=utcnow())
