"""Who is asking: an API key with read scope, or a viewer token, from the Bearer header."""

from __future__ import annotations

from ipaddress import ip_address

from fastapi import Request

from kansa import tokens
from kansa.access import Reader, reader_of_key
from kansa.errors import AuthError
from kansa.runtime import Runtime
from kansa.timeutil import utcnow


def reader(request: Request) -> Reader:
    runtime: Runtime = request.app.state.kansa
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and tokens.is_viewer_token(token.strip()):
            return tokens.read(runtime.secret_key(), token.strip(), now=utcnow())
    if header is None:
        raise AuthError("missing Authorization header: send 'Authorization: Bearer <key or token>'")
    return reader_of_key(runtime.keys.authenticate(header))


def client_ip(request: Request) -> str | None:
    """The peer's address, when it is one (a test client's is a name)."""
    host = request.client.host if request.client else None
    try:
        return str(ip_address(host)) if host else None
    except ValueError:
        return None
