"""Headers every reply carries unless its route set its own: a Content-Security-Policy that
allows nothing (a JSON reply or a file needs no script, style or frame) and ``nosniff``. The
console's pages and ``/docs`` set their own, narrower-than-nothing-but-enough policies."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULTS = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
)


class DefaultHeaders:
    """ASGI middleware adding :data:`DEFAULTS` to every HTTP reply that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_defaults(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in DEFAULTS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_defaults)
