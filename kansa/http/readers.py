"""Who is asking: an API key with read scope, or a viewer token, from the Bearer header —
and from which address (:func:`client_ip`, the one place a proxy header is read).

The dependencies here read the store off the event loop (a key missing from the cache, the
tenant), so no request waits for another's database read: :func:`reading` and
:func:`key_reading` give a route its :class:`Reading` — the reader, the tenant, and the
query the reader is entitled to."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Annotated, Any

from fastapi import Depends, Request

from kansa.access import tokens
from kansa.access.readers import Reader, check_minter, reader_of_key
from kansa.access.scope import Asked, scope, tenant_for
from kansa.catalog.layout import Layout
from kansa.errors import AuthError
from kansa.events.query import Query
from kansa.export.plan import Export, Options, plan
from kansa.records import ApiKey, Tenant
from kansa.server.runtime import Runtime
from kansa.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class Reading:
    """One reader reading one tenant's log, for one request."""

    runtime: Runtime
    reader: Reader
    tenant: Tenant

    @property
    def layout(self) -> Layout:
        return self.runtime.layout_of(self.tenant)

    def scope(self, asked: Asked | None = None, now: datetime | None = None) -> Query:
        """What the reader may have of ``asked`` (by default, all they may see)."""
        return scope(
            self.reader,
            asked or Asked(tenant=self.tenant.id),
            tenant=self.tenant,
            layout=self.layout,
            catalog=self.runtime.catalog,
            now=now or utcnow(),
        )

    def export(self, name: str, asked: Asked, options: Options) -> Export:
        """The layout's file ``name`` as the reader may have it."""
        return plan(
            self.reader,
            asked,
            name=name,
            tenant=self.tenant,
            layout=self.layout,
            catalog=self.runtime.catalog,
            now=utcnow(),
            options=options,
        )


CHECKED_KEY = "kansa.api_key"
"""Where a request keeps its API key once checked (in its ASGI scope, beside the header it
was checked against), so the rate limit and the route check it once."""


async def api_key(request: Request) -> ApiKey:
    """The request's API key: from the cache on the loop, else read off it; checked once
    per request."""
    return await checked_key(
        runtime_of(request), request.scope, request.headers.get("authorization")
    )


async def checked_key(
    runtime: Runtime, scope: MutableMapping[str, Any], header: str | None
) -> ApiKey:
    """The API key of the request whose ASGI ``scope`` this is, its ``Authorization`` header
    being ``header``: as :func:`api_key`, for a caller that holds no :class:`Request`."""
    checked = scope.get(CHECKED_KEY)
    if checked is not None and checked[0] == header:
        key: ApiKey = checked[1]
        return key
    found = runtime.keys.cached(header)
    if found is None:
        found = await runtime.read(lambda: runtime.keys.authenticate(header))
    scope[CHECKED_KEY] = (header, found)
    return found


async def key_reader(request: Request, scope: str = "read") -> Reader:
    """An API key with ``scope`` (by default ``read``)."""
    return reader_of_key(await api_key(request), scope)


async def reader(request: Request) -> Reader:
    """A viewer token or an API key with ``read`` scope."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and tokens.is_viewer_token(token.strip()):
            runtime = runtime_of(request)
            claims = tokens.verify(runtime.secret_key(), token.strip(), now=utcnow())
            if claims.key is not None:
                await minter_stands(runtime, claims.key)
            return claims.reader
    if header is None:
        raise AuthError("missing Authorization header: send 'Authorization: Bearer <key or token>'")
    return await key_reader(request)


async def minter_stands(runtime: Runtime, key_id: str) -> None:
    """AuthError unless the API key ``key_id`` (that minted a viewer token) stands: from the
    key cache on the loop, else read off it — a revoked key's tokens stop within a second."""
    key = runtime.keys.minter(key_id)
    if key is None:
        key = await runtime.read(lambda: runtime.keys.read_minter(key_id))
    check_minter(key, utcnow())


async def reading_of(request: Request, who: Reader, tenant: str | None) -> Reading:
    """``who`` reading ``tenant`` (their own when None), the tenant read off the loop."""
    runtime = runtime_of(request)
    asked = tenant_for(who, tenant)
    return await runtime.read(lambda: read_reading(runtime, who, asked))


def read_reading(runtime: Runtime, who: Reader, tenant: str) -> Reading:
    """``who`` reading ``tenant`` (as :func:`~kansa.access.scope.tenant_for` gave it), the
    tenant read from the store here: blocking, for a caller already off the loop."""
    return Reading(runtime, who, runtime.tenant(tenant))


async def reading(request: Request) -> Reading:
    """A dependency: a viewer token or a read key, and the tenant it reads (``tenant``, from
    the path or the query; a bound reader's own by default). The route declares ``tenant``
    itself, so its description keeps the parameter where it always was."""
    return await reading_of(request, await reader(request), _tenant_asked(request))


async def key_reading(request: Request) -> Reading:
    """A dependency: as :func:`reading`, for an API key with ``read`` scope only."""
    return await reading_of(request, await key_reader(request), _tenant_asked(request))


async def hold_reading(request: Request) -> Reading:
    """A dependency: as :func:`key_reading`, for an API key with ``hold`` scope."""
    return await reading_of(request, await key_reader(request, "hold"), _tenant_asked(request))


def _tenant_asked(request: Request) -> str | None:
    asked = request.path_params.get("tenant") or request.query_params.get("tenant")
    return str(asked) if asked else None


AnyReader = Annotated[Reader, Depends(reader)]
"""A route's parameter: a viewer token or a read key (the route reads the tenant itself)."""
AnyReading = Annotated[Reading, Depends(reading)]
"""A route's parameter: a viewer token or a read key, and the tenant it reads."""
KeyReading = Annotated[Reading, Depends(key_reading)]
"""A route's parameter: a read key, and the tenant it reads."""
HoldReading = Annotated[Reading, Depends(hold_reading)]
"""A route's parameter: a key with ``hold`` scope, and the tenant it holds."""


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.kansa
    return runtime


Network = IPv4Network | IPv6Network


def client_ip(request: Request) -> str | None:
    """The address of whoever sent the request: the peer, or — only when the peer is one of
    ``KANSA_TRUSTED_PROXIES`` — the address that proxy says it forwarded for."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, runtime_of(request).settings.trusted_proxies)


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


def trusted_peer(peer: str | None, trusted: Sequence[Network]) -> bool:
    """Whether ``peer`` is one of the trusted proxies, whose forwarding headers are believed."""
    address = _address(peer)
    return address is not None and _trusted(address, trusted)


@lru_cache(maxsize=4096)
def _address(text: str | None) -> IPv4Address | IPv6Address | None:
    """``text`` as an address (remembered: the same peers and proxies ask again and again)."""
    try:
        address = ip_address(text.strip()) if text else None
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:192.0.2.1 from a dual-stack socket
    return address


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)
