"""Who is asking: an API key with read scope, or a viewer token, from the Bearer header —
and from which address (:func:`client_ip`, the one place a proxy header is read)."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from fastapi import Request

from kansa.access import tokens
from kansa.access.readers import Reader, reader_of_key
from kansa.errors import AuthError
from kansa.server.runtime import Runtime
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


Network = IPv4Network | IPv6Network


def client_ip(request: Request) -> str | None:
    """The address of whoever sent the request: the peer, or — only when the peer is one of
    ``KANSA_TRUSTED_PROXIES`` — the address that proxy says it forwarded for."""
    runtime: Runtime = request.app.state.kansa
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, runtime.settings.trusted_proxies)


def client_address(
    peer: str | None, forwarded: Sequence[str], trusted: Sequence[Network]
) -> str | None:
    """Walk ``X-Forwarded-For`` from the right (the hop nearest kansa) while the hop that
    added each entry is a trusted proxy; the first address not vouched for that way is the
    client. Entries left of an untrusted hop were written by the client and are ignored, as
    is the whole header from an untrusted peer. None when the peer is not an address (a
    test client's name)."""
    current = _address(peer)
    if current is None or not trusted:
        return str(current) if current is not None else None
    hops = [h.strip() for line in forwarded for h in line.split(",")]
    while hops and _trusted(current, trusted):
        hop = _address(hops.pop())
        if hop is None:
            break  # a trusted proxy passed on garbage: believe no further
        current = hop
    return str(current)


def _address(text: str | None) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text.strip()) if text else None
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 from a dual-stack socket
    return address


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)
