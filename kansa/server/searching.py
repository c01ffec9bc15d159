"""``GET /api/v1/events`` served without FastAPI's machinery: the read kansa gets most.

FastAPI reads the search route's query parameters through its dependencies on every request
(twenty-one of them, each looked up and validated, the reader and the rate limit solved
around them): measured at 0.6–0.9 ms of a 4–5 ms search on PostgreSQL, more than the
reading of the tenant. :class:`FastSearch` answers a plain search itself, through the very
functions the route's dependencies and the route are: the rate limit
(:func:`~kansa.http.limits.check_rate`), the query (:func:`kansa.api.search.log_query`), the
reader (:func:`~kansa.http.readers.reader`), the tenant, the search and its answer
(:func:`kansa.api.search.search`), every refusal as the app renders it
(:func:`kansa.http.problems.answer`). No rule is written here; the query string is read by
the same class that reads it for FastAPI (Starlette's ``QueryParams``).

Whatever is not a plain search goes to the app unchanged: another path or method, a
parameter the route does not take, one it takes once given twice, a ``limit`` that is not
digits (FastAPI answers it with its own 400). It sits inside the NUL check, so a query with a
NUL never comes here. The route stays in the app for the OpenAPI document, and serves those.
"""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from kansa.api.search import log_query, search
from kansa.errors import KansaError
from kansa.http.limits import RateLimiter, check_rate
from kansa.http.problems import answer
from kansa.http.readers import reader
from kansa.server.runtime import Runtime

PATH = "/api/v1/events"
MANY = frozenset({"history", "category", "action", "group", "result", "level"})
"""The route's parameters that may be given again (or as comma-separated lists)."""
ONCE = frozenset(
    {"from", "to", "actor", "actor_id", "ip", "target", "target_id", "service", "q"}
    | {"tenant", "sort", "order", "limit", "cursor", "lang"}
)
"""The route's parameters given once."""
_DIGITS = re.compile(r"[0-9]{1,18}")


class FastSearch:
    """ASGI middleware: a plain ``GET /api/v1/events`` answered here, anything else passed
    on to ``app``. ``route`` is the app's search route: the one the log line and the metrics
    name."""

    def __init__(
        self, app: ASGIApp, runtime: Runtime, limiter: RateLimiter | None, route: BaseRoute
    ) -> None:
        self.app, self.runtime, self.limiter, self.route = app, runtime, limiter, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = _plain_search(scope)
        if params is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        response = await self._search(Request(scope, receive), params)
        await response(scope, receive, send)

    async def _search(self, request: Request, params: QueryParams) -> Response:
        one = params.get
        try:
            await check_rate(
                self.limiter, self.runtime, request.scope, request.headers.get("authorization")
            )
            wanted = log_query(
                from_=one("from"),
                to=one("to"),
                history=params.getlist("history") or None,
                category=params.getlist("category") or None,
                action=params.getlist("action") or None,
                group=params.getlist("group") or None,
                result=params.getlist("result") or None,
                level=params.getlist("level") or None,
                actor=one("actor"),
                actor_id=one("actor_id"),
                ip=one("ip"),
                target=one("target"),
                target_id=one("target_id"),
                service=one("service"),
                q=one("q"),
            )
            who = await reader(request)
            return await search(
                request,
                wanted,
                who,
                tenant=one("tenant"),
                sort=one("sort", "occurred_at"),
                order=one("order", "desc"),
                limit=int(one("limit", "50")),
                cursor=one("cursor"),
                lang=one("lang"),
            )
        except KansaError as exc:
            return answer(exc, self.runtime.metrics.store_error)


def _plain_search(scope: Scope) -> QueryParams | None:
    """The query of a plain search (read as Starlette reads it for FastAPI), or None."""
    if (
        scope["type"] != "http"
        or scope["path"] != PATH
        or scope["method"] != "GET"
        or scope.get("root_path")
    ):
        return None
    params = QueryParams(scope.get("query_string", b""))
    seen: set[str] = set()
    for name, value in params.multi_items():
        if name in MANY:
            continue
        if name not in ONCE or name in seen:
            return None
        if name == "limit" and not _DIGITS.fullmatch(value):
            return None
        seen.add(name)
    return params
