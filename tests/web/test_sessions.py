"""Console sessions end when they should, on the server's word and not only the cookie's: a
viewer token's session dies with the token, and signing out, an account's change and the
operator's ``kansa session end`` end sessions whose cookie was copied — on every engine."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from kansa.access import sessions, tokens
from kansa.cli import app as cli_app
from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.timeutil import utcnow
from kansa.web.session import COOKIE, unseal
from tests.helpers import viewer_token
from tests.web.test_auth import sign_in


def signed_in(client: TestClient) -> bool:
    """Whether the client's session cookie opens the log screen."""
    status: int = client.get("/console/log", follow_redirects=False).status_code
    return status == 200


def session_cookie(client: TestClient) -> str:
    cookie: str | None = client.cookies.get(COOKIE)
    assert cookie is not None
    return cookie


def with_cookie(runtime: Runtime, cookie: str) -> TestClient:
    """A second browser holding a copy of ``cookie``."""
    other = TestClient(create_app(runtime=runtime))
    other.cookies.set(COOKIE, cookie, path="/console")
    return other


def end_sessions(tenant: str, store_url: str) -> Result:
    return CliRunner().invoke(cli_app, ["session", "end", "--tenant", tenant, "--db", store_url])


def test_a_viewer_tokens_session_never_outlives_the_token(
    client: TestClient, runtime: Runtime, kddi: str
) -> None:
    minted = viewer_token(runtime, kddi, ttl=2)
    client.get(f"/console/enter?token={minted.token}", follow_redirects=False)
    session = unseal(runtime.secret_key(), session_cookie(client), utcnow())
    assert session is not None and session.expires <= minted.expires_at
    later = utcnow().replace(year=2999)  # however late a renewal, never past the token
    assert session.renewed(later, runtime.settings.session_minutes).expires <= minted.expires_at
    assert signed_in(client)
    time.sleep(max(0.0, minted.expires_at - time.time()) + 0.1)
    assert not signed_in(client)


def test_a_cookie_copied_before_sign_out_stops_working(
    client: TestClient, runtime: Runtime, kddi: str
) -> None:
    sign_in(client, kddi, "admin")
    copied = session_cookie(client)
    page = client.get("/console/log")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    client.post("/console/signout", data={"csrf": csrf}, follow_redirects=False)
    with with_cookie(runtime, copied) as thief:
        assert not signed_in(thief)
    sign_in(client, kddi, "admin")  # signing in again opens a new session
    assert signed_in(client)


def test_ending_an_accounts_sessions_leaves_the_others(
    client: TestClient, runtime: Runtime, store: Store, kddi: str
) -> None:
    sign_in(client, kddi, "admin")
    admin = session_cookie(client)
    client.cookies.clear()
    sign_in(client, kddi, "u-jiro")
    sessions.end_account(store, kddi, "admin", now=utcnow())  # disabled, or its role changed
    with with_cookie(runtime, admin) as other:
        assert not signed_in(other)
    assert signed_in(client)
    client.cookies.clear()
    sign_in(client, kddi, "admin")
    assert signed_in(client)


def test_kansa_session_end_ends_every_session_of_the_tenant(
    client: TestClient, runtime: Runtime, store_url: str, kddi: str
) -> None:
    secret = runtime.secret_key()
    minted = tokens.mint(
        secret, tenant=kddi, actor_id="v", name="v", role="admin", ttl=600, now=utcnow()
    )
    client.get(f"/console/enter?token={minted.token}", follow_redirects=False)
    viewer = session_cookie(client)
    client.cookies.clear()
    sign_in(client, kddi, "u-jiro")
    result = end_sessions(kddi, store_url)
    assert result.exit_code == 0, result.stderr
    assert kddi in result.stdout
    assert not signed_in(client)
    with with_cookie(runtime, viewer) as other:
        assert not signed_in(other)
    sign_in(client, kddi, "u-jiro")
    assert signed_in(client)
    unknown = end_sessions("nobody", store_url)
    assert unknown.exit_code == 2 and "nobody" in unknown.stderr


def test_kansa_account_disable_ends_its_sessions_and_its_sign_ins(
    client: TestClient, store_url: str, kddi: str
) -> None:
    sign_in(client, kddi, "admin")
    assert signed_in(client)
    account = ["--tenant", kddi, "admin", "--db", store_url]
    assert CliRunner().invoke(cli_app, ["account", "disable", *account]).exit_code == 0
    assert not signed_in(client)
    client.cookies.clear()
    refused = sign_in(client, kddi, "admin")
    assert refused.status_code != 303 and not signed_in(client)
    assert CliRunner().invoke(cli_app, ["account", "enable", *account]).exit_code == 0
    assert sign_in(client, kddi, "admin").status_code == 303 and signed_in(client)
