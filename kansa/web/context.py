"""Who is asking, for a console page: the session from the cookie, its tenant, layout and
screen, and the language to answer in."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from kansa.access import sessions
from kansa.access.readers import Reader
from kansa.catalog.layout import Layout
from kansa.catalog.screens import Screen
from kansa.http.readers import Reading, runtime_of
from kansa.records import Tenant
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.timeutil import utcnow
from kansa.web import i18n
from kansa.web.session import COOKIE, LANG_COOKIE, Session, unseal
from kansa.words import Lang


class SignInRequired(Exception):
    """No valid session: the console answers with the sign-in page."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign in required")
        self.expired = expired


@dataclass(frozen=True, slots=True)
class Context:
    runtime: Runtime
    session: Session
    tenant: Tenant
    layout: Layout
    screen: Screen
    lang: Lang

    @property
    def reader(self) -> Reader:
        return self.session.reader()

    @property
    def reading(self) -> Reading:
        """The session's reader reading its tenant's log."""
        return Reading(self.runtime, self.reader, self.tenant)


def language(request: Request, tenant_lang: str | None = None) -> Lang:
    """``?lang=`` first (the switch), then the cookie it set, then the tenant's language."""
    return i18n.pick(
        request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), tenant_lang
    )


async def current(request: Request) -> Context:
    runtime = runtime_of(request)
    now = utcnow()
    raw = request.cookies.get(COOKIE)
    session = unseal(runtime.secret_key(), raw, now)
    if session is None:
        raise SignInRequired(expired=raw is not None)
    tenant = await runtime.read(lambda: _still_open(runtime.store, session))
    if tenant is None:
        raise SignInRequired()
    minutes = runtime.settings.session_minutes
    if session.needs_renewal(now, minutes):
        request.state.renewed = session.renewed(now, minutes)
    layout = runtime.layout_of(tenant)
    ctx = Context(
        runtime, session, tenant, layout, runtime.screen_of(layout), language(request, tenant.lang)
    )
    request.state.console = ctx  # an error page keeps the signed-in header
    return ctx


def _still_open(store: Store, session: Session) -> Tenant | None:
    """The session's tenant, unless the session was ended on the server (signed out, its
    account or tenant ended) or its account was removed, disabled or given another role
    since."""
    tenant = store.get_tenant(session.tenant)
    if tenant is None:
        return None
    if session.account is not None:
        account = store.get_account(session.tenant, session.account)
        if account is None or account.role != session.role or account.disabled_at is not None:
            return None
    if sessions.is_ended(store, session.tenant, session.id, session.began_at, session.account):
        return None
    return tenant
