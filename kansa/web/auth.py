"""Signing in and out of the console: with an account's password, or through a viewer token
a host product minted. Each sign-in, failed sign-in and sign-out is recorded in the tenant's
own log as ``console.signin`` / ``console.signin_failed`` / ``console.signout``, in kansa's own
history (``access``, ログの利用履歴), never in the product's. A reader whose role the tenant's
layout gives no screen (microCMS: members who are not administrators) is refused at sign-in
with a sentence saying so, and the refusal is recorded the same way.

Guessing is slowed twice: an account locks after ``KANSA_SIGNIN_MAX_FAILURES`` wrong
passwords in a row, and a client address (see :func:`~kansa.http.readers.client_ip`) with
``KANSA_SIGNIN_IP_MAX_FAILURES`` failed sign-ins of any kind — unknown tenants and logins
included — within ``KANSA_SIGNIN_IP_WINDOW_MINUTES`` is refused (429) until the oldest failure
leaves the window, without its password being checked; an attempt counts from when it
begins, so parallel attempts cannot all pass. Passwords are checked on the runtime's own
threads (:meth:`~kansa.server.runtime.Runtime.check_password`)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from kansa.access import sessions, tokens
from kansa.access.accounts import Lockout, attempt, sign_in
from kansa.access.readers import Reader
from kansa.errors import AuthError, InvalidInput, Problem
from kansa.http.limits import Throttle, retry_after
from kansa.http.readers import client_ip, minter_stands, runtime_of
from kansa.server.runtime import Runtime
from kansa.timeutil import utcnow
from kansa.web.context import current, language
from kansa.web.render import drop_cookie, page, set_cookie
from kansa.web.routing import router, signin_redirect
from kansa.web.session import COOKIE, SIGNIN_COOKIE, same, seal, start, unseal

MAX_FORM_BYTES = 64 * 1024
MESSAGES = {
    "no_access": "signin.no_access",
    "expired": "signin.expired",
    "signed_out": "signin.signed_out",
    "token": "signin.token_failed",
}


async def form_lists(request: Request) -> dict[str, list[str]]:
    """A url-encoded form body: every value of each field. A body over MAX_FORM_BYTES is
    refused as soon as it gets there, not read to its end."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise InvalidInput([Problem("body", "the form is too large")])
        chunks.append(chunk)
    fields = parse_qs(b"".join(chunks).decode("utf-8", "replace"), keep_blank_values=True)
    for name, values in fields.items():
        if "\x00" in name or any("\x00" in v for v in values):
            where = name.replace("\x00", "\\u0000")
            raise InvalidInput([Problem(where, "must not contain the NUL character (U+0000)")])
    return fields


async def form_of(request: Request) -> dict[str, str]:
    """A url-encoded form body: the first value of each field."""
    return {name: values[0] for name, values in (await form_lists(request)).items()}


@router.get("")
async def index(request: Request) -> Response:
    runtime = runtime_of(request)
    signed_in = unseal(runtime.secret_key(), request.cookies.get(COOKIE), utcnow())
    return RedirectResponse("/console/log" if signed_in else "/console/signin", status_code=303)


def _signin_page(request: Request, message: str | None, status: int = 200, **form: str) -> Response:
    nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request,
        "signin.html",
        language(request),
        status,
        me=None,
        nonce=nonce,
        message=message,
        tenant=form.get("tenant", ""),
        login=form.get("login", ""),
    )
    set_cookie(request, response, SIGNIN_COOKIE, nonce, 3600)
    return response


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    return _signin_page(request, MESSAGES.get(request.query_params.get("m", "")))


@router.post("/signin")
async def signin(request: Request) -> Response:
    runtime = runtime_of(request)
    form = await form_of(request)
    tenant_id = form.get("tenant", "").strip()[:128]
    login = form.get("login", "").strip()[:200]
    if not same(request.cookies.get(SIGNIN_COOKIE), form.get("csrf")):
        return _signin_page(request, "signin.csrf", 400, tenant=tenant_id, login=login)
    ip = client_ip(request)
    throttle, address = _throttle(request, runtime), ip or "unknown"
    wait = throttle.begin(address)  # counted from now: parallel attempts cannot all pass
    if wait:
        refused = _signin_page(request, "signin.throttled", 429, tenant=tenant_id, login=login)
        refused.headers["Retry-After"] = retry_after(wait)
        return refused
    failed = False
    try:
        who = await _check(runtime, tenant_id, login, form.get("password", ""))
    except AuthError as exc:
        failed = True
        if not isinstance(exc, _UnknownTenant):  # a known tenant records it in its log
            await _record_failure(runtime, tenant_id, login, str(exc), ip)
        return _signin_page(request, "signin.failed", 401, tenant=tenant_id, login=login)
    finally:
        throttle.end(address, failed=failed)
    if not await _may_read(runtime, who):  # the right password, a role the layout refuses
        await _record_failure(runtime, tenant_id, login, "this role may not read the log", ip)
        return _signin_page(request, "signin.no_access", 403, tenant=tenant_id, login=login)
    return await _open(request, runtime, who, "password")


async def _may_read(runtime: Runtime, who: Reader) -> bool:
    """Whether ``who``'s role may see its tenant's log at all (microCMS: administrators
    only): the tenant's layout gives the role a screen window."""
    tenant = await runtime.read(lambda: runtime.store.get_tenant(who.tenant or ""))
    return tenant is not None and runtime.layout_of(tenant).window("screen", who.role) is not None


class _UnknownTenant(AuthError):
    """No such tenant, or no login given: nowhere to record the failure."""


async def _check(runtime: Runtime, tenant_id: str, login: str, password: str) -> Reader:
    """The account ``login`` of ``tenant_id`` if ``password`` is its own; AuthError, after
    as long as a real check takes, for every refusal. The argon2 work runs on the runtime's
    password threads, so sign-ins queue among themselves."""
    now = utcnow()
    tenant = await runtime.read(lambda: runtime.store.get_tenant(tenant_id)) if tenant_id else None
    policy = Lockout(runtime.settings.signin_max_failures, runtime.settings.signin_lock_minutes)
    if tenant is None or not login:
        await runtime.check_password(lambda: attempt(None, password, now=now, policy=policy))
        raise _UnknownTenant("unknown tenant")
    return await runtime.check_password(
        lambda: sign_in(runtime.store, tenant_id, login, password, now=now, policy=policy)
    )


def _throttle(request: Request, runtime: Runtime) -> Throttle:
    """The app's count of failed sign-ins per client address (made on first use)."""
    state = request.app.state
    found: Throttle | None = getattr(state, "signin_throttle", None)
    if found is None:
        settings = runtime.settings
        found = Throttle(settings.signin_ip_max_failures, settings.signin_ip_window_minutes * 60)
        state.signin_throttle = found
    return found


async def _record_failure(
    runtime: Runtime, tenant: str, login: str, reason: str, ip: str | None
) -> None:
    account = await runtime.read(lambda: runtime.store.get_account(tenant, login))
    actor = None if account is None else {"id": login, "name": account.name, "type": "account"}
    await runtime.record(
        actor,
        tenant,
        "console.signin_failed",
        {"login": login},
        ip,
        result="failure",
        details={"reason": reason},
    )


async def _open(
    request: Request, runtime: Runtime, who: Reader, method: str, until: int | None = None
) -> Response:
    """Start a session for ``who`` (ending at ``until`` at the latest), record the sign-in,
    and go to the log."""
    now = utcnow()
    session = start(who, now, runtime.settings.session_minutes, until)
    await runtime.record(
        who, session.tenant, "console.signin", ip=client_ip(request), details={"method": method}
    )
    response = RedirectResponse("/console/log", status_code=303)
    cookie = seal(runtime.secret_key(), session)
    set_cookie(request, response, COOKIE, cookie, session.seconds_left(now))
    drop_cookie(request, response, SIGNIN_COOKIE)
    return response


@router.get("/enter")
async def enter(request: Request, token: str = "") -> Response:
    """Open a session from a viewer token, then redirect so the token leaves the URL (and
    the browser history). The session ends when the token does, at the latest."""
    runtime = runtime_of(request)
    try:
        claims = tokens.verify(runtime.secret_key(), token.strip(), now=utcnow())
    except AuthError:
        return signin_redirect("token")
    who = claims.reader
    if claims.key is not None:
        try:
            await minter_stands(runtime, claims.key)
        except AuthError:
            return signin_redirect("token")
    tenant = await runtime.read(lambda: runtime.store.get_tenant(who.tenant or ""))
    if tenant is None:
        return signin_redirect("token")
    if not await _may_read(runtime, who):
        await runtime.record(
            who,
            tenant.id,
            "console.signin_failed",
            {"login": who.actor_id or who.name or "-"},
            client_ip(request),
            result="failure",
            details={"reason": "this role may not read the log", "method": "viewer token"},
        )
        return signin_redirect("no_access")
    return await _open(request, runtime, who, "viewer token", until=claims.expires)


@router.post("/signout")
async def signout(request: Request) -> Response:
    ctx = await current(request)
    form = await form_of(request)
    if not same(ctx.session.csrf, form.get("csrf")):
        raise InvalidInput([Problem("csrf", "the form has expired; send it again")])
    session, store, now = ctx.session, ctx.runtime.store, utcnow()
    # no copy of the cookie, however lately renewed, expires after this
    ends = now + timedelta(minutes=ctx.runtime.settings.session_minutes)
    await ctx.runtime.read(
        lambda: sessions.end_session(store, session.tenant, session.id, now=now, expires=ends)
    )
    await ctx.runtime.record(ctx.reader, ctx.tenant.id, "console.signout", ip=client_ip(request))
    response = signin_redirect("signed_out")
    drop_cookie(request, response, COOKIE)
    return response
