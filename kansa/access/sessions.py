"""Console sessions ended on the server's word. A session cookie is sealed and needs nothing
stored to be read, so without this a copied cookie would work until it expired. Instead the
store keeps, per tenant, the moment up to which the sessions of a *subject* are ended:

- :func:`end_session` — one session, on sign-out (kept until that session would have expired);
- :func:`end_account` — every session of one account (disabled, role changed, password reset);
- :func:`end_tenant` — every session of the tenant (``kansa session end``).

A session begun at or before the latest end of any subject it belongs to is refused
(:func:`is_ended`); one begun after it is not, so signing in again works at once."""

from __future__ import annotations

from datetime import datetime

from kansa.store import Store

TENANT = "tenant"
"""The subject every session of a tenant belongs to."""


def account_subject(login: str) -> str:
    return f"account:{login}"


def session_subject(session_id: str) -> str:
    return f"session:{session_id}"


def end_session(
    store: Store, tenant: str, session_id: str, *, now: datetime, expires: datetime
) -> None:
    """End one session (its cookie, and every copy of it) from ``now``."""
    store.end_sessions(tenant, session_subject(session_id), at=now, keep_until=expires)


def end_account(store: Store, tenant: str, login: str, *, now: datetime) -> None:
    """End every session an account opened up to ``now``; NotFound for an unknown tenant."""
    store.end_sessions(tenant, account_subject(login), at=now, keep_until=None)


def end_tenant(store: Store, tenant: str, *, now: datetime) -> None:
    """End every session opened in the tenant up to ``now``, accounts' and viewers' alike;
    NotFound for an unknown tenant."""
    store.end_sessions(tenant, TENANT, at=now, keep_until=None)


def is_ended(
    store: Store, tenant: str, session_id: str, began: datetime, account: str | None
) -> bool:
    """Whether the session ``session_id`` begun at ``began`` — an account's (its login) or
    a viewer's (None) — has been ended since. One indexed read."""
    subjects = [TENANT, session_subject(session_id)]
    if account is not None:
        subjects.append(account_subject(account))
    ended = store.sessions_ended(tenant, subjects)
    return ended is not None and began <= ended
