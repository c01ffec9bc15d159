"""``POST /api/v1/events`` served without FastAPI's machinery: the request kansa gets most.

FastAPI's handling of one request (its middleware, the routing, the request and response
objects, the dependencies) costs more of the event loop than publishing one event does
itself, so a client that sends one event per request was held to what FastAPI could route.
:class:`FastPublish` sits just inside :class:`~kansa.server.requests.Requests` (which still
gives the request its id, its headers, its log line and its metrics) and answers a publish
itself, through the very functions the FastAPI route calls: the rate limit
(:func:`~kansa.http.limits.check_rate`), the key (:func:`~kansa.http.readers.checked_key`,
once per request), every check and the reply (:func:`kansa.api.events.accept`), and every
refusal as the app renders it (:func:`kansa.http.problems.answer`). No rule is written here.

Whatever is not a plain publish goes to the app unchanged: another path or method, a query
string (the NUL check reads it), a body without a ``Content-Length`` or over
``KANSA_MAX_BODY_BYTES`` (the body limit answers it), a chunked body. The route stays in the
app for the OpenAPI document, and serves those.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from kansa.api.events import accept
from kansa.errors import KansaError
from kansa.http.limits import RateLimiter, check_rate
from kansa.http.problems import BodyTooLarge, answer, too_large
from kansa.http.readers import checked_key
from kansa.http.responses import JSON
from kansa.server.runtime import Runtime

PATH = "/api/v1/events"


class FastPublish:
    """ASGI middleware: a plain ``POST /api/v1/events`` answered here, anything else passed
    on to ``app``. ``route`` is the app's publish route: the one the log line and the
    metrics name."""

    def __init__(
        self, app: ASGIApp, runtime: Runtime, limiter: RateLimiter | None, route: BaseRoute
    ) -> None:
        self.app, self.runtime, self.limiter, self.route = app, runtime, limiter, route
        self.limit = runtime.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _plain_publish(scope):
            await self.app(scope, receive, send)
            return
        authorization, content_type, length = _headers(scope)
        if length is None or length > self.limit:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        try:
            response = await self._publish(scope, receive, authorization, content_type)
        except ClientDisconnect:
            return  # nobody to answer
        await response(scope, receive, send)

    async def _publish(
        self, scope: Scope, receive: Receive, authorization: str | None, content_type: str
    ) -> JSON:
        async def body() -> bytes:
            return await _body(receive, self.limit)

        try:
            await check_rate(self.limiter, self.runtime, scope, authorization)
            key = await checked_key(self.runtime, scope, authorization)
            return await accept(self.runtime, key, body, content_type)
        except KansaError as exc:
            return answer(exc, self.runtime.metrics.store_error)
        except BodyTooLarge as exc:
            return too_large(exc)


def _plain_publish(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["path"] == PATH
        and scope["method"] == "POST"
        and not scope.get("query_string")
        and not scope.get("root_path")
    )


def _headers(scope: Scope) -> tuple[str | None, str, int | None]:
    """The first ``Authorization``, ``Content-Type`` and ``Content-Length`` (None when
    absent, not a number, or the body is chunked) of the request, as Starlette reads them."""
    authorization: str | None = None
    content_type: str | None = None
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1") if authorization is None else authorization
        elif name == b"content-type":
            content_type = value.decode("latin-1") if content_type is None else content_type
        elif name == b"content-length":
            if length is None:
                text = value.decode("latin-1").strip()
                length = int(text) if text.isdigit() else -1
        elif name == b"transfer-encoding":
            chunked = True
    if chunked or length == -1:
        length = None
    return authorization, content_type or "", length


async def _body(receive: Receive, limit: int) -> bytes:
    """The whole body (:class:`ClientDisconnect` when the client went away first)."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
