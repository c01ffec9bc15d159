"""Every request, seen once from the outside: its id, its scheme behind a proxy, its line in
the log, its place in the metrics and the headers every reply carries.

- **Request id**: a trusted proxy's ``X-Request-Id`` (letters, digits, ``.-_:``, at most 64)
  is kept, else a new one is made (32 hex digits, unique and unpredictable, see
  :class:`RequestIds`); it is answered as ``X-Request-Id`` and logged.
- **Scheme**: a request a trusted proxy (``KANSA_TRUSTED_PROXIES``) forwarded with
  ``X-Forwarded-Proto: https`` is an HTTPS request to kansa, so its console cookies are
  ``Secure`` and the URLs it builds say ``https``. From any other peer the header is ignored.
- **Log**: one line on ``kansa.request`` per request: method, route template, path (its
  credentials redacted), status, milliseconds, the client's address (the peer, or whom a
  trusted proxy forwarded for), the request id.
- **Metrics**: requests and latency by route template (never the raw path), refused
  publishes by reason, console sign-ins by outcome.
- **Headers**: the defaults of :mod:`kansa.http.headers` on every reply that lacks them.

It is the one layer of kansa's that wraps ``send``: every request pays for it, so it does
no more per request than it must (no header is read unless a trusted proxy sent it, a log
record is made only when the line is written, without looking up its caller).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from itertools import count

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kansa.http.headers import with_defaults
from kansa.http.readers import Network, client_address, trusted_peer
from kansa.server.accesslog import redact
from kansa.server.logs import FIELDS
from kansa.server.metrics import REFUSALS, SIGNINS, Metrics

log = logging.getLogger("kansa.request")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
PUBLISH = ("POST", "/api/v1/events")
SIGNIN = ("POST", "/console/signin")
LINE = "%s %s %d"


class RequestIds:
    """New request ids, 32 hex digits as a random UUID's, without asking the system for
    randomness on every request: a counter hashed (BLAKE2b) with a key drawn once per process,
    again in a forked child. Unique, and an id tells nothing of how many came before it."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._keyed = hashlib.blake2b(key=os.urandom(16), digest_size=16)
        self._counter = count()

    def new(self) -> str:
        made = self._keyed.copy()
        made.update(next(self._counter).to_bytes(8, "little"))
        return made.hexdigest()


IDS = RequestIds()
os.register_at_fork(after_in_child=IDS.restart)


class Requests:
    """ASGI middleware: the outermost of kansa's own."""

    def __init__(self, app: ASGIApp, metrics: Metrics, trusted: list[Network]) -> None:
        self.app = app
        self.metrics = metrics
        self.trusted = trusted
        self._counted: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        peer = scope["client"][0] if scope.get("client") else None
        proxied = bool(self.trusted) and trusted_peer(peer, self.trusted)
        headers = _headers(scope) if proxied else {}
        given = headers.get("x-request-id", "")
        request_id = given if given and REQUEST_ID.fullmatch(given) else IDS.new()
        proto = headers.get("x-forwarded-proto", "").strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                answered = with_defaults(message.get("headers", ()))
                answered.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": answered}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
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
        requests, latency = self._metrics_of(method, route, status)
        requests.inc()
        latency.observe(seconds)
        if (method, route) == PUBLISH and status >= 400:
            self.metrics.publish_refused.labels(REFUSALS.get(status, "error")).inc()
        elif (method, route) == SIGNIN:
            self.metrics.signins.labels(SIGNINS.get(status, "error")).inc()
        if log.isEnabledFor(logging.INFO):
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
            _log(LINE, (method, route, status), fields)

    def _metrics_of(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        """The request counter and latency histogram of a method, route and status (each
        child looked up once, not with its labels on every request)."""
        found = self._counted.get((method, route, status))
        if found is None:
            found = (
                self.metrics.requests.labels(method, route, str(status)),
                self.metrics.latency.labels(method, route),
            )
            self._counted[(method, route, status)] = found
        return found


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (a repeated one: joined by ``, ``)."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        found[name] = f"{found[name]}, {value}" if name in found else value
    return found


def _log(message: str, args: tuple[object, ...], fields: dict[str, object]) -> None:
    """``log.info(message, *args, extra={"fields": fields})``, less its walk up the stack
    for the caller's file and line, which no kansa log line shows."""
    record = log.makeRecord(
        log.name, logging.INFO, __file__, 0, message, args, None, "_done", {FIELDS: fields}
    )
    log.handle(record)
