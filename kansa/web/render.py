"""Pages: the Jinja2 environment (autoescaping everything), the response headers every
console page carries, and the cookies the console sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from kansa.visible import visible
from kansa.web.i18n import translator
from kansa.words import LANGS, Lang

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _shown(value: Any) -> Any:
    """Every text a page shows, with characters that would reorder it written out."""
    return visible(value) if type(value) is str else value


# Autoescape is on for every template, whatever its name: event fields are untrusted.
_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_shown,
)


def page(
    request: Request, template: str, lang: Lang, status: int = 200, **context: Any
) -> HTMLResponse:
    html = _ENV.get_template(template).render(
        lang=lang, t=translator(lang), switch=_switch(request), **context
    )
    return HTMLResponse(html, status_code=status)


def _switch(request: Request) -> dict[str, str]:
    """This page in each language (the current query with ``lang`` replaced)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "m")]
    path = request.url.path if request.method == "GET" else "/console/signin"
    return {code: f"{path}?{urlencode([*kept, ('lang', code)])}" for code in LANGS}


def secure(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def drop_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/console", httponly=True, samesite="lax", secure=is_https(request)
    )
