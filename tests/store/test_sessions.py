"""Ended console sessions as the store keeps them (kansa.access.sessions) — on every engine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kansa.access import sessions
from kansa.errors import NotFound
from kansa.store import Store
from kansa.timeutil import utcnow


@pytest.fixture
def tenant(store: Store, tenant_id: str) -> str:
    store.create_tenant(tenant_id, name=None, layout="pca-id", tz="Asia/Tokyo", lang="ja")
    return tenant_id


def test_a_session_is_ended_by_its_own_account_or_tenant_end(store: Store, tenant: str) -> None:
    began = utcnow()
    assert not sessions.is_ended(store, tenant, "s1", began, "ichiro")
    sessions.end_account(store, tenant, "jiro", now=began + timedelta(seconds=1))
    assert not sessions.is_ended(store, tenant, "s1", began, "ichiro")  # another account
    assert sessions.is_ended(store, tenant, "s2", began, "jiro")
    assert not sessions.is_ended(store, tenant, "s3", began + timedelta(seconds=2), "jiro")
    sessions.end_tenant(store, tenant, now=began + timedelta(seconds=3))
    assert sessions.is_ended(store, tenant, "s1", began, "ichiro")
    assert sessions.is_ended(store, tenant, "v1", began, None)  # a viewer's too
    assert not sessions.is_ended(store, tenant, "s4", began + timedelta(seconds=4), "ichiro")


def test_a_signed_out_session_is_forgotten_once_it_would_have_expired(
    store: Store, tenant: str
) -> None:
    now = utcnow()
    sessions.end_session(store, tenant, "gone", now=now, expires=now + timedelta(minutes=30))
    assert sessions.is_ended(store, tenant, "gone", now - timedelta(minutes=1), None)
    later = now + timedelta(minutes=31)
    sessions.end_session(store, tenant, "next", now=later, expires=later + timedelta(minutes=30))
    assert store.sessions_ended(tenant, [sessions.session_subject("gone")]) is None


def test_ending_an_unknown_tenants_sessions_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="no tenant 'nobody'"):
        sessions.end_tenant(store, "nobody", now=utcnow())
