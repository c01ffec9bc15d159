"""Signing in: argon2id passwords and lockout after repeated failures — on every engine."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta

import pytest

from kansa.access.accounts import Lockout, hash_password, sign_in
from kansa.errors import AuthError, Conflict, InvalidInput
from kansa.store import Store
from kansa.timeutil import utcnow

POLICY = Lockout(max_failures=3, minutes=15)


@pytest.fixture
def account(store: Store, tenant_id: str) -> str:
    store.create_tenant(tenant_id, name=None, layout="pca-id", tz="Asia/Tokyo", lang="ja")
    store.create_account(
        tenant_id,
        "ichiro",
        name="飯田橋 一郎",
        role="admin",
        password_hash=hash_password("correct horse battery"),
    )
    return tenant_id


def test_the_right_password_signs_in_as_the_accounts_role(store: Store, account: str) -> None:
    reader = sign_in(store, account, "ichiro", "correct horse battery", now=utcnow(), policy=POLICY)
    assert (reader.kind, reader.role, reader.tenant, reader.name) == (
        "account",
        "admin",
        account,
        "飯田橋 一郎",
    )


def test_repeated_failures_lock_the_account_for_a_while(store: Store, account: str) -> None:
    now = utcnow()
    for _ in range(3):
        with pytest.raises(AuthError):
            sign_in(store, account, "ichiro", "wrong password", now=now, policy=POLICY)
    with pytest.raises(AuthError, match="locked"):
        sign_in(store, account, "ichiro", "correct horse battery", now=now, policy=POLICY)
    later = now + timedelta(minutes=16)
    assert (
        sign_in(store, account, "ichiro", "correct horse battery", now=later, policy=POLICY).role
        == "admin"
    )
    stored = store.get_account(account, "ichiro")
    assert stored is not None and stored.failures == 0


def test_an_unknown_login_is_refused_like_a_wrong_password(store: Store, account: str) -> None:
    with pytest.raises(AuthError, match="unknown login or wrong password"):
        sign_in(store, account, "nobody", "whatever", now=utcnow(), policy=POLICY)


def test_accounts_are_unique_per_tenant_and_passwords_not_too_short(
    store: Store, account: str
) -> None:
    with pytest.raises(Conflict):
        store.create_account(
            account,
            "ichiro",
            name="x",
            role="user",
            password_hash=hash_password("another password"),
        )
    with pytest.raises(InvalidInput):
        hash_password("short")


def refusal_time(store: Store, tenant: str, login: str, now: datetime) -> float:
    """The median time of three refused sign-ins."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        with pytest.raises(AuthError):
            sign_in(store, tenant, login, "wrong password", now=now, policy=POLICY)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_every_refusal_takes_as_long_as_a_wrong_password(store: Store, account: str) -> None:
    now = utcnow()
    hashed = hash_password("correct horse battery")
    store.create_account(account, "locked", name="L", role="user", password_hash=hashed)
    store.record_signin(account, "locked", failures=0, locked_until=now + timedelta(hours=1))
    wrong = refusal_time(store, account, "ichiro", now - timedelta(hours=1))  # not yet locked
    unknown = refusal_time(store, account, "nobody", now)
    locked = refusal_time(store, account, "locked", now)
    slowest, fastest = max(wrong, unknown, locked), min(wrong, unknown, locked)
    print(f"wrong {wrong:.3f} s, unknown {unknown:.3f} s, locked {locked:.3f} s")  # noqa: T201
    assert slowest / fastest < 3, f"refusals differ: {wrong=:.3f} {unknown=:.3f} {locked=:.3f}"
