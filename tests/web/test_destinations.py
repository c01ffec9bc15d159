"""The administrator's page of log destinations: each destination that delivers the tenant's
log (its own and the operator's), its state and lag; another tenant's are not shown, and a
general user is refused."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from kansa.access import tokens
from kansa.integrity.keyfile import load_signer
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.streaming import manage
from kansa.streaming.destinations import parse_spec
from kansa.timeutil import utcnow


def _enter(client: TestClient, runtime: Runtime, tenant: str, role: str) -> None:
    minted = tokens.mint(
        runtime.secret_key(),
        tenant=tenant,
        actor_id=f"u-{role}",
        name="管理 太郎",
        role=role,
        ttl=600,
        now=utcnow(),
    )
    assert client.get(f"/console/enter?token={minted.token}", follow_redirects=False).is_redirect


def _add(runtime: Runtime, store: Store, name: str, tenant: str | None) -> str:
    spec = parse_spec(
        {
            "name": name,
            "kind": "webhook",
            "start": "beginning",
            "config": {"url": "http://127.0.0.1:9/"},
        }
    )
    signer = load_signer(runtime.settings)
    return manage.add(store, signer, spec, tenant, secret_given=False).destination.id


def test_an_administrator_sees_the_destinations_of_the_tenant_and_their_state(
    client: TestClient, runtime: Runtime, store: Store, kddi: str
) -> None:
    siem = _add(runtime, store, "siem-of-hikari", kddi)
    other = f"{kddi}-x"
    store.create_tenant(other, name="x", layout=None, tz="Asia/Tokyo", lang="ja")
    elsewhere = _add(runtime, store, "siem-of-another", other)
    now = utcnow()
    claimed = store.claim_cursors("page-test", now, now + timedelta(seconds=30), 1000)
    cursor = next(c for c in claimed if c.destination == siem)
    store.mark_failed(
        cursor, "page-test", degraded=True, retry_at=now, error="webhook answered 503"
    )
    _enter(client, runtime, kddi, "admin")
    shown = client.get("/console/destinations")
    assert shown.status_code == 200
    assert "siem-of-hikari" in shown.text and "障害中" in shown.text
    assert "webhook answered 503" in shown.text and "siem-of-another" not in shown.text
    english = client.get("/console/destinations?lang=en").text
    assert "Log destinations" in english and "Degraded (retrying)" in english
    for made in (siem, elsewhere):
        manage.remove(store, made, None)


def test_a_general_user_is_refused(client: TestClient, runtime: Runtime, kddi: str) -> None:
    _enter(client, runtime, kddi, "user")
    assert client.get("/console/destinations").status_code == 403
