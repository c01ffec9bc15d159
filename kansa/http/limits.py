"""Limits checked at the HTTP edge, before any work is done for a request:

- :class:`BodyLimit` — no request body larger than ``KANSA_MAX_BODY_BYTES`` is read: a
  declared ``Content-Length`` above it is refused at once, and a chunked body is counted as it
  arrives and refused the moment it passes the limit (413).
- :class:`RateLimiter` and :func:`rate_limit` — a token bucket per API key, in this process:
  requests above ``KANSA_RATE_LIMIT_PER_SECOND`` (with ``KANSA_RATE_LIMIT_BURST`` of slack)
  get 429 with ``Retry-After``. Requests are counted, not events: a batch of 1,000 costs one
  token. A verified key and every viewer token it minted (whose signed claim names it) share
  the key's bucket; any other credential has one of its own, by its SHA-256 (never the
  credential itself), so a forged claim drains nobody else's.
- :class:`Throttle` — failures counted per key (a client address) in a sliding window,
  with the attempts still in flight counted as failures until they end, so that parallel
  attempts cannot all pass; the console's sign-in uses it so that guessing logins from one
  address is slowed as guessing one account's password is (the account lock).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kansa.access import tokens
from kansa.errors import AuthError, Problem
from kansa.http.problems import BodyTooLarge, HTTPProblem, problem
from kansa.http.readers import checked_key
from kansa.server.runtime import Runtime
from kansa.timeutil import utcnow

Clock = Callable[[], float]
PRUNE_AT = 10_000
"""Buckets kept before full ones (indistinguishable from new ones) are dropped."""


class BodyLimit:
    """ASGI middleware: refuse a request body over ``limit`` bytes without reading it all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            refusal = BodyTooLarge(self.limit)
            response = problem(
                413, str(refusal.detail), refusal.problems[0].message, refusal.problems
            )
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


class NoNul:
    """ASGI middleware: a request whose path or query holds a NUL character is refused with
    400 naming where, on every route — PostgreSQL cannot hold NUL in text, and no reader of
    an audit log needs one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = _nul_in(scope)
            if where is not None:
                found = Problem(where, "must not contain the NUL character (U+0000)")
                refusal = problem(400, "Invalid query", f"{where}: {found.message}", [found])
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_in(scope: Scope) -> str | None:
    """Where a NUL is in the request's path or query: ``path`` or the parameter's name."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query.lower() and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "\\u0000") or "query"
    return "query"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


@dataclass
class RateLimiter:
    """Token buckets: each key holds up to ``burst`` tokens, refilled at ``rate`` a second;
    a request takes one. Used from the event loop only (no lock needed)."""

    rate: float
    burst: int
    clock: Clock = time.monotonic
    _buckets: dict[bytes, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: bytes) -> float:
        """Take a token for ``key``: 0.0 when allowed, else the seconds until one is free."""
        now = self.clock()
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > PRUNE_AT:
                self._prune(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def credential_key(authorization: str) -> bytes:
    """What a credential is counted under: the SHA-256 of the token, so the same key with
    a differently spelled scheme is one bucket and no key is held in memory as text."""
    _, _, token = authorization.partition(" ")
    return hashlib.sha256((token or authorization).strip().encode()).digest()


async def bucket_of(runtime: Runtime, scope: MutableMapping[str, Any], authorization: str) -> bytes:
    """The bucket a request (its ASGI ``scope``) is counted in: its API key's, once the
    credential is verified — a key as the route checks it
    (:func:`~kansa.http.readers.checked_key`, once per request), or a viewer token by its
    signature and the key its claim names — else the credential's own
    (:func:`credential_key`)."""
    key_id = await _verified_key_id(runtime, scope, authorization)
    return b"key:" + key_id.encode() if key_id else credential_key(authorization)


async def _verified_key_id(
    runtime: Runtime, scope: MutableMapping[str, Any], authorization: str
) -> str | None:
    token = authorization.partition(" ")[2].strip()
    try:
        if tokens.is_viewer_token(token):
            return tokens.verify(runtime.secret_key(), token, now=utcnow()).key
        return (await checked_key(runtime, scope, authorization)).id
    except AuthError:
        return None


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


async def rate_limit(request: Request) -> None:
    """A dependency of every API route: 429 for a credential over its rate."""
    await check_rate(
        getattr(request.app.state, "rate_limiter", None),
        request.app.state.kansa,
        request.scope,
        request.headers.get("authorization"),
    )


async def check_rate(
    limiter: RateLimiter | None,
    runtime: Runtime,
    scope: MutableMapping[str, Any],
    header: str | None,
) -> None:
    """HTTPProblem 429 when the credential of the request (its ASGI ``scope``, its
    ``Authorization`` header ``header``) is over its rate; nothing without a limiter or a
    credential."""
    if limiter is None or not header:
        return
    wait = limiter.take(await bucket_of(runtime, scope, header))
    if wait:
        raise HTTPProblem(
            429,
            "Too many requests",
            [
                Problem(
                    "authorization",
                    f"this key made more than {limiter.rate:g} requests a second; "
                    f"retry after {retry_after(wait)} s",
                )
            ],
            headers={"Retry-After": retry_after(wait)},
        )


IN_FLIGHT_WAIT = 1.0
"""Seconds to wait when only attempts still in flight fill a key's limit."""


@dataclass
class Throttle:
    """At most ``max_failures`` failures per key within ``window`` seconds; then the key is
    refused until its oldest failure leaves the window. An attempt counts from when it
    begins (:meth:`begin`) to when it ends (:meth:`end`), and as a failure after if it
    failed. Used from the event loop only (no lock needed)."""

    max_failures: int
    window: float
    clock: Clock = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _in_flight: dict[str, int] = field(default_factory=dict)

    def wait(self, key: str) -> float:
        """0.0 when ``key`` may try again, else the seconds until it may."""
        now = self.clock()
        seen = self._recent(key, now)
        if len(seen) + self._in_flight.get(key, 0) < self.max_failures:
            return 0.0
        if len(seen) < self.max_failures:
            return IN_FLIGHT_WAIT
        return max(seen[0] + self.window - now, 0.001)

    def begin(self, key: str) -> float:
        """Begin an attempt for ``key``: 0.0 when it may go on (then :meth:`end` it), else
        the seconds until one may."""
        wait = self.wait(key)
        if not wait:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return wait

    def end(self, key: str, *, failed: bool) -> None:
        """End an attempt :meth:`begin` let go on; a failure is counted in the window."""
        left = self._in_flight.get(key, 0) - 1
        if left > 0:
            self._in_flight[key] = left
        else:
            self._in_flight.pop(key, None)
        if failed:
            self.fail(key)

    def fail(self, key: str) -> None:
        now = self.clock()
        self._recent(key, now).append(now)
        if len(self._failures) > PRUNE_AT:
            for stale in [
                k
                for k, q in self._failures.items()
                if (not q or q[-1] <= now - self.window) and k not in self._in_flight
            ]:
                del self._failures[stale]

    def _recent(self, key: str, now: float) -> deque[float]:
        seen = self._failures.setdefault(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        return seen
