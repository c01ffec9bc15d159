"""Accounts: people who sign in to read a tenant's log. Passwords are hashed with argon2id;
repeated failures lock the account for a while."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kansa.access.readers import Reader
from kansa.errors import AuthError, InvalidInput, Problem
from kansa.records import Account
from kansa.store import Store
from kansa.words import ROLES

_HASHER = PasswordHasher()  # argon2id with the library's recommended parameters
MIN_PASSWORD = 10


def reader_of_account(account: Account) -> Reader:
    return Reader("account", account.role, account.tenant, account.login, account.name)


@dataclass(frozen=True, slots=True)
class Lockout:
    """After ``max_failures`` wrong passwords in a row, refuse for ``minutes``."""

    max_failures: int = 5
    minutes: int = 15


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput([Problem("password", f"must be at least {MIN_PASSWORD} characters")])
    return _HASHER.hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput([Problem("role", "must be admin or user")])


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of a sign-in attempt, and what to store about it."""

    ok: bool
    failures: int
    locked_until: datetime | None
    reason: str = ""


@functools.cache
def _dummy_hash() -> str:
    """A hash no password is known to match, checked for a login that does not exist."""
    return _HASHER.hash(secrets.token_urlsafe(24))


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def attempt(account: Account | None, password: str, *, now: datetime, policy: Lockout) -> Attempt:
    """Check a password against an account, counting failures. A locked account refuses even
    the right password; an unknown login is refused the same way as a wrong password. Every
    refusal costs one argon2 check, so its time tells nothing: an unknown login is checked
    against a dummy hash, a locked account's password against its own hash (unused)."""
    if account is None:
        _matches(_dummy_hash(), password)
        return Attempt(False, 0, None, "unknown login or wrong password")
    matched = _matches(account.password_hash, password)
    if account.disabled_at is not None:
        return Attempt(False, account.failures, account.locked_until, "account is disabled")
    if account.locked_until is not None and account.locked_until > now:
        return Attempt(False, account.failures, account.locked_until, "account is locked")
    if not matched:
        failures = account.failures + 1
        locked = (
            now + timedelta(minutes=policy.minutes) if failures >= policy.max_failures else None
        )
        return Attempt(
            False,
            0 if locked else failures,
            locked,
            "account is locked" if locked else "unknown login or wrong password",
        )
    return Attempt(True, 0, None)


def sign_in(
    store: Store, tenant: str, login: str, password: str, *, now: datetime, policy: Lockout
) -> Reader:
    """Check a sign-in and store its outcome (failure count, lock). AuthError on refusal."""
    account = store.get_account(tenant, login)
    result = attempt(account, password, now=now, policy=policy)
    if account is not None and (result.failures, result.locked_until) != (
        account.failures,
        account.locked_until,
    ):
        store.record_signin(
            tenant, login, failures=result.failures, locked_until=result.locked_until
        )
    if not result.ok or account is None:
        raise AuthError(result.reason)
    return reader_of_account(account)
