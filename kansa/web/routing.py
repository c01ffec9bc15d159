"""The console's router. Every console route goes through :class:`ConsoleRoute`, the one
place where kansa's errors become HTML pages (the API answers JSON problems instead), where
the security headers are added and where a renewed session or a language switch is saved
in its cookie."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from kansa.access.scope import PeriodRefused
from kansa.errors import AuthError, Forbidden, InvalidInput, KansaError, NotFound, StoreUnavailable
from kansa.http.problems import RETRY_AFTER_SECONDS
from kansa.server.runtime import Runtime
from kansa.timeutil import utcnow
from kansa.web.context import Context, SignInRequired, language
from kansa.web.render import page, secure, set_cookie
from kansa.web.session import COOKIE, LANG_COOKIE, Session, seal
from kansa.words import is_lang

log = logging.getLogger("kansa.web")
LANG_SECONDS = 365 * 24 * 3600


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def console(request: Request) -> Response:
            try:
                response = await handle(request)
            except SignInRequired as exc:
                response = signin_redirect("expired" if exc.expired else None)
            except KansaError as exc:
                response = error_page(request, exc)
            _remember(request, response)
            return secure(response)

        return console


router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def signin_redirect(message: str | None = None) -> Response:
    query = f"?{urlencode({'m': message})}" if message else ""
    return RedirectResponse(f"/console/signin{query}", status_code=303)


def error_page(request: Request, exc: KansaError) -> Response:
    """The page of an error, wholly in the reader's language: a translated sentence, never
    the problem's own (English, technical) words, which go to the log. A signed-in reader
    keeps the header: tenant, name, language switch and sign-out."""
    if isinstance(exc, AuthError):
        return signin_redirect()
    me: Context | None = getattr(request.state, "console", None)
    lang = me.lang if me is not None else language(request)
    values: dict[str, object] = {}
    if isinstance(exc, PeriodRefused):
        key, status = f"error.{exc.fault}", 400
        if exc.earliest is not None:
            tz = ZoneInfo(me.tenant.tz) if me is not None else UTC
            values["start"] = f"{exc.earliest.astimezone(tz):%Y/%m/%d}"
    elif isinstance(exc, Forbidden):
        key, status = "error.forbidden", 403
    elif isinstance(exc, NotFound):
        key, status = "error.not_found", 404
    elif isinstance(exc, InvalidInput):
        key, status = "error.invalid", 400
    else:
        request.app.state.kansa.metrics.store_error(exc)
        key, status = "error.unavailable", 503
    if status == 503:
        log.error("console request failed: %s", exc)
    else:
        log.info("console %s %s: %d %s", request.method, request.url.path, status, exc)
    answer = page(request, "error.html", lang, status, message=key, values=values, me=me)
    if isinstance(exc, StoreUnavailable):
        answer.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return answer


def _remember(request: Request, response: Response) -> None:
    runtime: Runtime = request.app.state.kansa
    renewed: Session | None = getattr(request.state, "renewed", None)
    if renewed is not None and COOKIE not in response.headers.get("set-cookie", ""):
        age = renewed.seconds_left(utcnow())
        set_cookie(request, response, COOKIE, seal(runtime.secret_key(), renewed), age)
    asked = request.query_params.get("lang")
    if is_lang(asked) and asked != request.cookies.get(LANG_COOKIE):
        set_cookie(request, response, LANG_COOKIE, asked, LANG_SECONDS)
