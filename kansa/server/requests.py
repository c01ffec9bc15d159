"""Every request, seen once from the outside: its id, its scheme behind a proxy, its line in
the log and its place in the metrics.

- **Request id**: a trusted proxy's ``X-Request-Id`` (letters, digits, ``.-_:``, at most 64)
  is kept, else a new one is made; it is answered as ``X-Request-Id`` and logged.
- **Scheme**: a request a trusted proxy (``KANSA_TRUSTED_PROXIES``) forwarded with
  ``X-Forwarded-Proto: https`` is an HTTPS request to kansa, so its console cookies are
  ``Secure`` and the URLs it builds say ``https``. From any other peer the header is ignored.
- **Log**: one line on ``kansa.request`` per request: method, route template, path (its
  credentials redacted), status, milliseconds, the client's address (the peer, or whom a
  trusted proxy forwarded for), the request id.
- **Metrics**: requests and latency by route template (never the raw path), refused
  publishes by reason, console sign-ins by outcome.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kansa.http.readers import Network, client_address, trusted_peer
from kansa.server.accesslog import redact
from kansa.server.metrics import REFUSALS, SIGNINS, Metrics

log = logging.getLogger("kansa.request")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
PUBLISH = ("POST", "/api/v1/events")
SIGNIN = ("POST", "/console/signin")


class Requests:
    """ASGI middleware: the outermost of kansa's own."""

    def __init__(self, app: ASGIApp, metrics: Metrics, trusted: list[Network]) -> None:
        self.app = app
        self.metrics = metrics
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _headers(scope)
        peer = scope["client"][0] if scope.get("client") else None
        proxied = trusted_peer(peer, self.trusted)
        given = headers.get("x-request-id", "")
        request_id = given if proxied and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        if proxied and headers.get("x-forwarded-proto", "").strip().lower() in ("http", "https"):
            scope["scheme"] = headers["x-forwarded-proto"].strip().lower()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [(b"x-request-id", request_id.encode())]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            forwarded = [headers["x-forwarded-for"]] if "x-forwarded-for" in headers else []
            client = client_address(peer, forwarded, self.trusted)
            self._done(scope, status, time.perf_counter() - started, request_id, client)

    def _done(
        self, scope: Scope, status: int, seconds: float, request_id: str, client: str | None
    ) -> None:
        method = scope["method"]
        found = scope.get("route")
        route = getattr(found, "path", None) or "unmatched"
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(seconds)
        if (method, route) == PUBLISH and status >= 400:
            self.metrics.publish_refused.labels(REFUSALS.get(status, "error")).inc()
        elif (method, route) == SIGNIN:
            self.metrics.signins.labels(SIGNINS.get(status, "error")).inc()
        path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        fields = {
            "method": method,
            "route": route,
            "path": redact(f"{path}?{query}" if query else path),
            "status": status,
            "ms": round(seconds * 1000, 1),
            "client": client,
            "request_id": request_id,
        }
        log.info("%s %s %d", method, route, status, extra={"fields": fields})


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (a repeated one: joined by ``, ``)."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        found[name] = f"{found[name]}, {value}" if name in found else value
    return found
