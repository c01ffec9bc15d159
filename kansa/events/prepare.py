"""The event contract: what a publisher sends, how it is checked, and the record kansa keeps.

:func:`prepare` turns a batch of decoded JSON objects into :class:`PreparedEvent` records —
checked against the schema and the catalog, message rendered, canonical bytes made — or
raises :class:`~kansa.errors.InvalidInput` listing every problem with its field path. No I/O:
the store assigns the sequence number and the chain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from ipaddress import ip_address
from typing import Annotated, Any

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from kansa.catalog import Catalog, EventType
from kansa.errors import InvalidInput, Problem
from kansa.ids import new_id
from kansa.timeutil import iso_utc, parse_iso, utcnow, within_bounds
from kansa.words import LEVELS, Level

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=1)
"""How far ahead of kansa's clock an event may say it happened (clock skew)."""

# The size of every field a publisher sends (docs/api.md lists them). A longer value is a
# 422 naming the field's path, e.g. ``events[3].actor.name``.
MAX_ID = 200
"""Ids: the event's, an actor's or target's, ``app``, ``action``, trace and correlation."""
MAX_NAME = 500
"""Names, logins, e-mail addresses."""
MAX_TEXT = 2000
"""Free text: user agent, error message, one parameter value."""
MAX_CODE = 50
"""Short codes: result, actor and target types."""
MAX_IP = 64
MAX_PARAM_KEY = 100
MAX_PARAMS = 100
"""Parameters per event, and strings in one list-valued parameter."""
MAX_TARGETS = 100
MAX_PARAMS_BYTES = 16 * 1024
"""``params`` as JSON, in all."""
MAX_DETAILS_BYTES = 64 * 1024
"""``details`` as JSON."""
MAX_DEPTH = 32
"""How deeply ``details`` may nest objects and lists."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Code = Annotated[str, StringConstraints(max_length=MAX_CODE)]


def _param_value(value: Any) -> Any:
    """A parameter: a string, number, boolean, null, or a list of strings — each string at
    most MAX_TEXT characters. (One check instead of a union, so a refusal names the
    parameter and not the union's members.)"""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValueError(f"is longer than {MAX_TEXT} characters")
        return value
    if isinstance(value, list):
        if len(value) > MAX_PARAMS:
            raise ValueError(f"holds more than {MAX_PARAMS} values")
        if not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
            raise ValueError(f"must be a list of strings of at most {MAX_TEXT} characters")
        return value
    raise ValueError("must be a string, a number, true or false, null, or a list of strings")


ParamValue = Annotated[
    Any,
    PlainValidator(_param_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": MAX_TEXT},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
                {
                    "type": "array",
                    "items": {"type": "string", "maxLength": MAX_TEXT},
                    "maxItems": MAX_PARAMS,
                },
            ]
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantRef(_Strict):
    id: Annotated[str, StringConstraints(pattern=TENANT_ID_PATTERN)]
    name: Name | None = None


class Actor(_Strict):
    id: Id
    name: Name | None = None
    login: Name | None = None
    email: Name | None = None
    type: Code | None = None


class Target(_Strict):
    type: Code | None = None
    id: Id | None = None
    name: Name | None = None
    login: Name | None = None


class ErrorInfo(_Strict):
    code: Annotated[str, StringConstraints(max_length=MAX_ID)] | None = None
    message: Text | None = None


class EventIn(_Strict):
    """One event as a publisher sends it (see docs/api.md)."""

    id: Id | None = Field(default=None, description="Client-chosen id: the idempotency key.")
    tenant: TenantRef
    app: Id | None = None
    action: Id
    occurred_at: AwareDatetime | None = None
    result: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE)]
    level: Level | None = None
    actor: Actor | None = None
    anonymous: bool = False
    ip: Annotated[str, StringConstraints(max_length=MAX_IP)] | None = None
    user_agent: Text | None = None
    targets: Annotated[list[Target], Field(max_length=MAX_TARGETS)] = []
    params: Annotated[
        dict[Annotated[str, StringConstraints(max_length=MAX_PARAM_KEY)], ParamValue],
        Field(max_length=MAX_PARAMS),
    ] = {}
    details: dict[str, Any] | None = None
    trace_id: Annotated[str, StringConstraints(max_length=MAX_ID)] | None = None
    error: ErrorInfo | None = None
    correlation_id: Annotated[str, StringConstraints(max_length=MAX_ID)] | None = None

    @field_validator("tenant", mode="before")
    @classmethod
    def _tenant_as_text(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return _normal_ip(value)
        except ValueError:
            raise ValueError("not an IPv4 or IPv6 address") from None

    @field_validator("params")
    @classmethod
    def _params_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(orjson.dumps(value)) > MAX_PARAMS_BYTES:
            raise ValueError(f"params are larger than {MAX_PARAMS_BYTES} bytes as JSON")
        return value

    @field_validator("details")
    @classmethod
    def _details_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if _depth(value) > MAX_DEPTH:
            raise ValueError(f"details nest deeper than {MAX_DEPTH} levels")
        if len(orjson.dumps(value)) > MAX_DETAILS_BYTES:
            raise ValueError(f"details are larger than {MAX_DETAILS_BYTES} bytes as JSON")
        return value

    @model_validator(mode="after")
    def _who(self) -> EventIn:
        if self.actor is None and not self.anonymous:
            raise ValueError("actor is required (or set anonymous: true when nobody is known)")
        if self.actor is not None and self.anonymous:
            raise ValueError("an anonymous event has no actor; send one or the other")
        return self


INT_RANGE = (-(2**63), 2**63 - 1)
"""Integers kansa keeps exactly, on both engines: signed 64 bits."""
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def _long_number(data: bytes) -> bool:
    """Whether ``data`` holds a run of 19 digits or more: an integer that may not fit in 64
    bits. (Every digit made a 0, then one substring test: several times faster than a regular
    expression over bytes full of times, addresses and ids.)"""
    return _LONG_RUN in data.translate(_DIGITS_AS_ZERO)


def exact_json(body: bytes) -> Any:
    """A JSON body as sent. orjson reads an integer beyond 64 bits as a rounded float; where
    the body holds a number that long, the standard parser reads it instead, exactly, so
    :func:`unsafe_values` can refuse it rather than store another number. Raises ValueError
    for anything that is not JSON (NaN and Infinity included)."""
    value = orjson.loads(body)
    if not _long_number(body):
        return value
    return json.loads(body, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def unsafe_values(item: Any, where: str) -> list[Problem]:
    """What in a raw event kansa could not keep as sent: a NUL character in any text or key
    (PostgreSQL cannot store it), an integer beyond 64 bits (it would be rounded). A fast
    look at the event's JSON first; the walk naming each place only when it finds a hint."""
    try:
        data = orjson.dumps(item)
    except (orjson.JSONEncodeError, TypeError):
        data = b"\\u0000"  # an integer beyond 64 bits, among others: walk to name it
    if b"\\u0000" not in data and not _long_number(data):
        return []
    problems: list[Problem] = []
    stack: list[tuple[Any, str]] = [(item, where)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                problems.append(Problem(path, "must not contain the NUL character (U+0000)"))
        elif isinstance(value, int) and not isinstance(value, bool):
            if not INT_RANGE[0] <= value <= INT_RANGE[1]:
                problems.append(Problem(path, "is an integer beyond 64 bits: send it as a string"))
        elif isinstance(value, dict):
            for key, child in value.items():
                key_path = _join(path, str(key).replace("\x00", "\\u0000"))
                if isinstance(key, str) and "\x00" in key:
                    problems.append(Problem(key_path, "a key must not contain NUL (U+0000)"))
                stack.append((child, key_path))
        elif isinstance(value, list):
            stack.extend((child, f"{path}[{n}]") for n, child in enumerate(value))
    return sorted(problems, key=lambda p: p.path)


def _depth(value: Any) -> int:
    """How deeply ``value`` nests objects and lists (without recursion: a hostile document
    may nest far deeper than Python's stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """A checked event, ready to be chained and stored."""

    id: str
    tenant_id: str
    tenant_name: str | None
    layout: str
    client_id: str | None
    occurred_at: datetime
    received_at: datetime
    app: str | None
    product: str
    action: str
    category: str
    history: str
    result: str
    level: str
    actor_id: str | None
    actor_login: str | None
    actor_name: str | None
    ip: str | None
    target_id: str | None
    target_name: str | None
    correlation_id: str | None
    trace_id: str | None
    message_ja: str
    message_en: str
    service: str | None
    """The provisioning destination (``params.service``), searched as its own field."""
    search_text: str
    """Every value a free-text search looks at, lower-cased (see :func:`search_text`)."""
    core: bytes
    """Canonical JSON of the event (sorted keys, UTF-8); the chain wraps it with seq and
    prev_hash."""


def prepare(
    items: Sequence[Any],
    catalog: Catalog,
    *,
    default_app: str | None = None,
    received_at: datetime | None = None,
    path_prefix: str = "events",
    single: bool = False,
) -> list[PreparedEvent]:
    """Check every item; return them prepared, or raise with every problem found."""
    now = received_at or utcnow()
    received = iso_utc(now)
    problems: list[Problem] = []
    prepared: list[PreparedEvent] = []
    for index, item in enumerate(items):
        where = "" if single else f"{path_prefix}[{index}]"
        unsafe = unsafe_values(item, where)
        if unsafe:
            problems.extend(unsafe)
            continue
        try:
            event = EventIn.model_validate(item)
        except ValidationError as exc:
            problems.extend(_problems(exc, where))
            continue
        found = _check(event, catalog, default_app, where, problems, now)
        if found is None:
            continue
        layout = catalog.products[found[0].product].layout
        prepared.append(_prepare(event, *found, layout, default_app, now, received))
    if problems:
        raise InvalidInput(problems)
    return prepared


def _check(
    event: EventIn,
    catalog: Catalog,
    default_app: str | None,
    where: str,
    out: list[Problem],
    now: datetime,
) -> tuple[EventType, dict[str, Any]] | None:
    """The event's type and its template values, or None with the problems added to ``out``."""
    lookup = catalog.find(event.app or default_app, event.action)
    if lookup.event_type is None:
        out.append(Problem(_join(where, lookup.path), lookup.message))
        return None
    event_type = lookup.event_type
    before = len(out)
    if event.occurred_at is not None and not EARLIEST <= event.occurred_at <= now + MAX_AHEAD:
        out.append(
            Problem(
                _join(where, "occurred_at"), "must lie between 2000-01-01 and one day after now"
            )
        )
    if event.result not in event_type.results:
        out.append(
            Problem(
                _join(where, "result"),
                f"{event.result!r} is not a result of {event_type.action!r}; "
                f"allowed: {', '.join(event_type.results)}",
            )
        )
        return None
    values = template_values(event)
    for name in sorted(event_type.required_params(event.result)):
        if values.get(name) in (None, ""):
            out.append(
                Problem(
                    _join(where, f"params.{name}"),
                    f"required by {event_type.action!r} (its message uses {{{name}}})",
                )
            )
    product = catalog.products[event_type.product]
    allowed_values = dict(product.values)
    if event_type.modules:
        allowed_values["module"] = event_type.modules
        if values.get("module") in (None, ""):
            out.append(
                Problem(
                    _join(where, "params.module"),
                    f"required by {event_type.action!r}, which is logged by any of: "
                    f"{', '.join(event_type.modules)}",
                )
            )
    for name in sorted(product.times & set(event.params)):
        if not _is_time(event.params[name]):
            out.append(
                Problem(
                    _join(where, f"params.{name}"),
                    "must be an ISO 8601 time with its offset (2026-12-10T09:00:00+09:00)",
                )
            )
    for name in sorted(set(event_type.param_names()) | {"module"}):
        allowed = allowed_values.get(name)
        given = event.params.get(name)
        if allowed is not None and given is not None and given not in allowed:
            out.append(
                Problem(
                    _join(where, f"params.{name}"),
                    f"{given!r} is not one of: {', '.join(allowed)}",
                )
            )
    return (event_type, values) if len(out) == before else None


def _is_time(value: Any) -> bool:
    """Whether ``value`` is an ISO 8601 time stating its offset, within the calendar."""
    if not isinstance(value, str):
        return False
    try:
        within_bounds(parse_iso(value), "time")
    except (ValueError, InvalidInput):
        return False
    return True


def template_values(event: EventIn) -> dict[str, Any]:
    """The values a message template can use: derived from the event, overridden by params."""
    values: dict[str, Any] = {
        "ip": event.ip,
        "user_agent": event.user_agent,
        "tenant": event.tenant.name or event.tenant.id,
    }
    if event.actor is not None:
        values.update(
            actor=event.actor.name or event.actor.login or event.actor.id,
            actor_id=event.actor.id,
            actor_login=event.actor.login,
            actor_email=event.actor.email,
        )
    if event.targets:
        first = event.targets[0]
        values.update(
            target=first.name or first.login or first.id,
            target_id=first.id,
            target_login=first.login,
            target_type=first.type,
        )
    values.update({k: v for k, v in event.params.items() if v is not None})
    return values


def _prepare(
    event: EventIn,
    event_type: EventType,
    values: dict[str, Any],
    layout: str,
    default_app: str | None,
    now: datetime,
    received: str,
) -> PreparedEvent:
    occurred = event.occurred_at or now
    level = event.level or event_type.level_for(event.result)
    template = event_type.template_for(event.result)
    message = {"ja": template.render("ja", values), "en": template.render("en", values)}
    kansa_id = new_id()
    first_target = event.targets[0] if event.targets else None
    app = event.app or default_app
    record = {
        "v": 1,
        "id": kansa_id,
        "client_id": event.id,
        "tenant": {"id": event.tenant.id, "name": event.tenant.name},
        "app": app,
        "product": event_type.product,
        "action": event.action,
        "category": event_type.category,
        "history": event_type.history,
        "occurred_at": iso_utc(occurred),
        "received_at": received,
        "result": event.result,
        "level": level,
        "actor": event.actor.model_dump() if event.actor else None,
        "anonymous": event.anonymous,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "targets": [t.model_dump() for t in event.targets],
        "params": event.params,
        "details": event.details,
        "trace_id": event.trace_id,
        "error": event.error.model_dump() if event.error else None,
        "correlation_id": event.correlation_id,
        "message": message,
    }
    return PreparedEvent(
        id=kansa_id,
        tenant_id=event.tenant.id,
        tenant_name=event.tenant.name,
        layout=layout,
        client_id=event.id,
        occurred_at=occurred,
        received_at=now,
        app=app,
        product=event_type.product,
        action=event.action,
        category=event_type.category,
        history=event_type.history,
        result=event.result,
        level=level,
        actor_id=event.actor.id if event.actor else None,
        actor_login=event.actor.login if event.actor else None,
        actor_name=event.actor.name if event.actor else None,
        ip=event.ip,
        target_id=first_target.id if first_target else None,
        target_name=first_target.name if first_target else None,
        correlation_id=event.correlation_id,
        trace_id=event.trace_id,
        message_ja=message["ja"],
        message_en=message["en"],
        service=service_of(record),
        search_text=search_text(record),
        core=canonical(record),
    )


SEARCHED = (
    "message",
    "actor",
    "targets",
    "params",
    "details",
    "ip",
    "user_agent",
    "trace_id",
    "error",
    "correlation_id",
    "app",
)


def search_text(event: Mapping[str, Any]) -> str:
    """The values free text is searched in — messages, names, ids, params, details — without
    the JSON keys, so searching "login" finds a login and not every event with an actor."""
    parts: list[str] = []
    append = parts.append

    def walk(value: Any) -> None:
        kind = type(value)  # decoded JSON first (exact types), then anything alike
        if kind is str:
            append(value)
        elif kind is dict or kind is list:
            # the order of the canonical bytes, so verify agrees; strings and nulls, most of
            # the children, are taken here rather than by a call each
            for item in (value[key] for key in sorted(value)) if kind is dict else value:
                if type(item) is str:
                    append(item)
                elif item is not None:
                    walk(item)
        elif value is None or isinstance(value, bool):
            return
        elif isinstance(value, str):
            append(value)
        elif isinstance(value, int | float):
            append(str(value))
        elif isinstance(value, Mapping):
            for key in sorted(value):
                walk(value[key])
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for name in SEARCHED:
        walk(event.get(name))
    return "\x1f".join(parts).lower()


@lru_cache(maxsize=8192)
def _normal_ip(value: str) -> str:
    """An address in its normal form (ValueError when it is none); a publisher's events come
    from few addresses, so each is parsed once."""
    return str(ip_address(value))


def service_of(event: Mapping[str, Any]) -> str | None:
    service = (event.get("params") or {}).get("service")
    return service if isinstance(service, str) else None


def canonical(value: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a JSON object: sorted keys, no spaces, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def _join(where: str, path: str) -> str:
    if not where:
        return path
    return f"{where}.{path}" if path else where


def _problems(exc: ValidationError, where: str) -> list[Problem]:
    out = []
    for error in exc.errors(include_url=False, include_context=False):
        path = where
        for part in error["loc"]:
            if isinstance(part, int):
                path = f"{path}[{part}]"
            elif part in ("function-after[_who()]",):
                continue
            else:
                path = _join(path, str(part))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "timezone_aware":
            message = "must state its UTC offset, e.g. 2026-11-21T10:00:00+09:00 or …Z"
        elif error["type"] == "extra_forbidden":
            message = "is not a field of an event"
        out.append(Problem(path or "event", message))
    return out


__all__ = [
    "LEVELS",
    "EventIn",
    "PreparedEvent",
    "canonical",
    "prepare",
    "search_text",
    "service_of",
    "template_values",
]
