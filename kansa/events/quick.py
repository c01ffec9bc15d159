"""A quick look at an event: the contract of :class:`~kansa.events.prepare.EventIn` once
more, as msgspec structs, ten times quicker than pydantic's reading.

What the structs accept, EventIn accepts with the same values (a property test in
tests/test_prepare_quick.py holds them to it); what they refuse, or cannot vouch for (a time
in any other form than RFC 3339's, say), goes to EventIn, whose refusals are the ones a
publisher reads.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, NamedTuple

import msgspec
import orjson

from kansa.events.limits import (
    MAX_CODE,
    MAX_DEPTH,
    MAX_DETAILS_BYTES,
    MAX_ID,
    MAX_IP,
    MAX_NAME,
    MAX_PARAM_KEY,
    MAX_PARAMS,
    MAX_PARAMS_BYTES,
    MAX_TARGETS,
    MAX_TEXT,
    TENANT_ID_PATTERN,
    depth,
    normal_ip,
)
from kansa.words import Level

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID)]
_Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME)]
_Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
_Code = Annotated[str, msgspec.Meta(max_length=MAX_CODE)]
_ShortId = Annotated[str, msgspec.Meta(max_length=MAX_ID)]
_TenantId = Annotated[str, msgspec.Meta(pattern=TENANT_ID_PATTERN.removesuffix("$") + r"\Z")]
_Param = (
    _Text | int | float | bool | None | Annotated[list[_Text], msgspec.Meta(max_length=MAX_PARAMS)]
)


class _Shape(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class Tenant(_Shape):
    id: _TenantId
    name: _Name | None = None


class Actor(_Shape):
    id: _Id
    name: _Name | None = None
    login: _Name | None = None
    email: _Name | None = None
    type: _Code | None = None


class Target(_Shape):
    type: _Code | None = None
    id: _Id | None = None
    name: _Name | None = None
    login: _Name | None = None


class ErrorInfo(_Shape):
    code: _ShortId | None = None
    message: _Text | None = None


class Event(_Shape, kw_only=True):
    """An event of the right shape, as :mod:`kansa.events.prepare` reads it."""

    id: _Id | None = None
    tenant: _TenantId | Tenant
    app: _Id | None = None
    action: _Id
    occurred_at: str | None = None
    """As sent; the time itself is :attr:`Valid.occurred_at`."""
    result: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CODE)]
    level: Level | None = None
    actor: Actor | None = None
    anonymous: bool = False
    ip: Annotated[str, msgspec.Meta(max_length=MAX_IP)] | None = None
    user_agent: _Text | None = None
    targets: Annotated[list[Target], msgspec.Meta(max_length=MAX_TARGETS)] = []
    params: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=MAX_PARAM_KEY)], _Param],
        msgspec.Meta(max_length=MAX_PARAMS),
    ] = {}
    details: dict[str, Any] | None = None
    trace_id: _ShortId | None = None
    error: ErrorInfo | None = None
    correlation_id: _ShortId | None = None


class Valid(NamedTuple):
    """An event that passed the contract, its tenant and time as EventIn reads them."""

    event: Event
    tenant: Tenant
    occurred_at: datetime | None


_AWARE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
).match
"""The times the quick look reads itself (RFC 3339, at most microseconds, an offset within a
day); every other form AwareDatetime may accept goes to EventIn."""


def look(item: Any, data: bytes) -> Valid | None:
    """``item`` (whose JSON is ``data``) checked by the structs and the rules EventIn adds, or
    None when anything is wrong or unsure."""
    try:
        event = msgspec.convert(item, Event)
    except (msgspec.ValidationError, TypeError, ValueError):
        return None
    if (event.actor is None) != event.anonymous:
        return None  # EventIn's _who refuses it
    occurred = None
    if event.occurred_at is not None:
        if _AWARE_TIME(event.occurred_at) is None:
            return None
        try:
            occurred = datetime.fromisoformat(event.occurred_at)
        except ValueError:
            return None
    if event.ip is not None:
        try:
            event.ip = normal_ip(event.ip)
        except ValueError:
            return None
    if not _small(event, data):
        return None
    tenant = event.tenant if isinstance(event.tenant, Tenant) else Tenant(id=event.tenant)
    return Valid(event, tenant, occurred)


def _small(event: Event, data: bytes) -> bool:
    """Whether params and details keep within their sizes and details within its depth. The
    whole event's JSON bounds both: params and details are parts of it, and details cannot
    nest deeper than the number of objects and lists in it."""
    if len(data) > MAX_PARAMS_BYTES:
        if len(orjson.dumps(event.params)) > MAX_PARAMS_BYTES:
            return False
        if event.details is not None and len(orjson.dumps(event.details)) > MAX_DETAILS_BYTES:
            return False
    if event.details is not None and data.count(b"{") + data.count(b"[") > MAX_DEPTH:
        return depth(event.details) <= MAX_DEPTH
    return True
