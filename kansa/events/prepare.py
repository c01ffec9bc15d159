"""The event contract: what a publisher sends, how it is checked, and the record kansa keeps.

:func:`prepare` turns a batch of decoded JSON objects into :class:`PreparedEvent` records —
checked against the schema and the catalog, message rendered, canonical bytes made — or
raises :class:`~kansa.errors.InvalidInput` listing every problem with its field path. No I/O:
the store assigns the sequence number and the chain.
"""

from __future__ import annotations

import functools
import json
import operator
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import chain
from typing import Annotated, Any, NamedTuple

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
from kansa.catalog.template import Template
from kansa.errors import InvalidInput, Problem
from kansa.events import quick
from kansa.events.limits import (
    EARLIEST,
    MAX_AHEAD,
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
from kansa.ids import new_id
from kansa.timeutil import iso_utc, parse_iso, utcnow, within_bounds
from kansa.words import LEVELS, Level

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
            return normal_ip(value)
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
        if depth(value) > MAX_DEPTH:
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


@dataclass(slots=True, unsafe_hash=True)
class PreparedEvent:
    """A checked event, ready to be chained and stored; never changed once made. (Not frozen,
    as every ingested event makes one: a frozen dataclass sets each of its 28 fields through
    ``object.__setattr__``, 2.5 times the cost of plain assignment. Hashed by its fields, as
    a frozen one was.)"""

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

    def __reduce__(self) -> tuple[type[PreparedEvent], tuple[Any, ...]]:
        """Pickled (for the writer process) as its fields in order, made again by the
        constructor: with its time in UTC, 2.5 µs an event to pickle and 1.5 to load, against
        7.9 and 4.4 through the dataclass's own state (docs/benchmarks.md)."""
        return PreparedEvent, _FIELDS(self)


_FIELDS = operator.attrgetter(*(field.name for field in fields(PreparedEvent)))


def _validated(
    item: Any, where: str, out: list[Problem], quickly: bool = True
) -> quick.Valid | None:
    """``item`` as a valid event, or None with its problems added to ``out``: the structs' quick
    look first (unless ``quickly`` is False), EventIn where they refuse."""
    data = _json_of(item, orjson.OPT_STRICT_INTEGER)  # none beyond 53 bits, so none beyond 64
    if data is None or b"\\u0000" in data:
        unsafe = unsafe_values(item, where)
        if unsafe:
            out.extend(unsafe)
            return None
        data = _json_of(item)
    if quickly and data is not None:
        valid = quick.look(item, data)
        if valid is not None:
            return valid
    try:
        model = EventIn.model_validate(item)
    except ValidationError as exc:
        out.extend(_problems(exc, where))
        return None
    return _valid_of(model)


def _json_of(item: Any, option: int = 0) -> bytes | None:
    try:
        return orjson.dumps(item, option=option)
    except (orjson.JSONEncodeError, TypeError):
        return None


def _valid_of(model: EventIn) -> quick.Valid:
    """What EventIn read, in the structs' form."""
    actor, error = model.actor, model.error
    event = quick.Event(
        id=model.id,
        tenant=quick.Tenant(id=model.tenant.id, name=model.tenant.name),
        app=model.app,
        action=model.action,
        result=model.result,
        level=model.level,
        actor=None if actor is None else quick.Actor(**actor.model_dump()),
        anonymous=model.anonymous,
        ip=model.ip,
        user_agent=model.user_agent,
        targets=[quick.Target(**t.model_dump()) for t in model.targets],
        params=model.params,
        details=model.details,
        trace_id=model.trace_id,
        error=None if error is None else quick.ErrorInfo(**error.model_dump()),
        correlation_id=model.correlation_id,
    )
    return quick.Valid(
        event, quick.Tenant(id=model.tenant.id, name=model.tenant.name), model.occurred_at
    )


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
    latest = now + MAX_AHEAD
    plans = _plans_of(catalog)
    problems: list[Problem] = []
    prepared: list[PreparedEvent] = []
    for index, item in enumerate(items):
        where = "" if single else f"{path_prefix}[{index}]"
        valid = _validated(item, where, problems)
        if valid is None:
            continue
        found = _check(valid, catalog, plans, default_app, where, problems, latest)
        if found is not None:
            prepared.append(_prepare(valid, *found, default_app, now, received))
    if problems:
        raise InvalidInput(problems)
    return prepared


class _Plan(NamedTuple):
    """What checking and writing an event of one type with one result needs, worked out
    once per catalog."""

    event_type: EventType
    layout: str
    template: Template
    level: str
    required: tuple[str, ...]
    """The params the event must give, sorted."""
    times: tuple[str, ...]
    """The product's params that are times."""
    allowed: tuple[tuple[str, tuple[str, ...]], ...]
    """The params restricted to listed values, sorted, each with its values."""


_Plans = dict[tuple[str | None, str, str], _Plan]
_PLANS: weakref.WeakKeyDictionary[Catalog, _Plans] = weakref.WeakKeyDictionary()
MAX_PLANS = 4096
"""Plans kept per catalog: keyed by the app an event names, which a publisher chooses."""


def _plans_of(catalog: Catalog) -> _Plans:
    plans = _PLANS.get(catalog)
    if plans is None:
        plans = _PLANS.setdefault(catalog, {})
    return plans


def _plan(catalog: Catalog, event_type: EventType, result: str) -> _Plan:
    product = catalog.products[event_type.product]
    allowed_values = dict(product.values)
    if event_type.modules:
        allowed_values["module"] = event_type.modules
    names = sorted(set(event_type.param_names()) | {"module"})
    return _Plan(
        event_type,
        product.layout,
        event_type.template_for(result),
        event_type.level_for(result),
        tuple(sorted(event_type.required_params(result))),
        tuple(sorted(product.times)),
        tuple((n, allowed_values[n]) for n in names if allowed_values.get(n) is not None),
    )


def _check(
    valid: quick.Valid,
    catalog: Catalog,
    plans: _Plans,
    default_app: str | None,
    where: str,
    out: list[Problem],
    latest: datetime,
) -> tuple[_Plan, dict[str, Any]] | None:
    """The event's plan and its template values, or None with the problems added to ``out``."""
    event = valid.event
    key = (event.app or default_app, event.action, event.result)
    plan = plans.get(key)
    if plan is None:
        lookup = catalog.find(key[0], event.action)
        if lookup.event_type is None:
            out.append(Problem(_join(where, lookup.path), lookup.message))
            return None
        event_type = lookup.event_type
    else:
        event_type = plan.event_type
    before = len(out)
    occurred = valid.occurred_at
    if occurred is not None and not EARLIEST <= occurred <= latest:
        out.append(
            Problem(
                _join(where, "occurred_at"), "must lie between 2000-01-01 and one day after now"
            )
        )
    if plan is None:
        if event.result not in event_type.results:
            out.append(
                Problem(
                    _join(where, "result"),
                    f"{event.result!r} is not a result of {event_type.action!r}; "
                    f"allowed: {', '.join(event_type.results)}",
                )
            )
            return None
        plan = _plan(catalog, event_type, event.result)
        if len(plans) >= MAX_PLANS:
            plans.clear()
        plans[key] = plan
    values = _template_values(valid)
    _check_params(plan, event.params, values, where, out)
    return (plan, values) if len(out) == before else None


def _check_params(
    plan: _Plan, params: dict[str, Any], values: dict[str, Any], where: str, out: list[Problem]
) -> None:
    action = plan.event_type.action
    for name in plan.required:
        if values.get(name) in (None, ""):
            out.append(
                Problem(
                    _join(where, f"params.{name}"),
                    f"required by {action!r} (its message uses {{{name}}})",
                )
            )
    modules = plan.event_type.modules
    if modules and values.get("module") in (None, ""):
        out.append(
            Problem(
                _join(where, "params.module"),
                f"required by {action!r}, which is logged by any of: {', '.join(modules)}",
            )
        )
    for name in plan.times:
        if name in params and not _is_time(params[name]):
            out.append(
                Problem(
                    _join(where, f"params.{name}"),
                    "must be an ISO 8601 time with its offset (2026-12-10T09:00:00+09:00)",
                )
            )
    for name, allowed in plan.allowed:
        given = params.get(name)
        if given is not None and given not in allowed:
            out.append(
                Problem(
                    _join(where, f"params.{name}"),
                    f"{given!r} is not one of: {', '.join(allowed)}",
                )
            )


def _is_time(value: Any) -> bool:
    """Whether ``value`` is an ISO 8601 time stating its offset, within the calendar."""
    if not isinstance(value, str):
        return False
    try:
        within_bounds(parse_iso(value), "time")
    except (ValueError, InvalidInput):
        return False
    return True


def _template_values(valid: quick.Valid) -> dict[str, Any]:
    """The values a message template can use: derived from the event, overridden by params."""
    event, tenant = valid.event, valid.tenant
    values: dict[str, Any] = {
        "ip": event.ip,
        "user_agent": event.user_agent,
        "tenant": tenant.name or tenant.id,
    }
    actor = event.actor
    if actor is not None:
        values["actor"] = actor.name or actor.login or actor.id
        values["actor_id"] = actor.id
        values["actor_login"] = actor.login
        values["actor_email"] = actor.email
    if event.targets:
        first = event.targets[0]
        values["target"] = first.name or first.login or first.id
        values["target_id"] = first.id
        values["target_login"] = first.login
        values["target_type"] = first.type
    for key, value in event.params.items():
        if value is not None:
            values[key] = value
    return values


def _prepare(
    valid: quick.Valid,
    plan: _Plan,
    values: dict[str, Any],
    default_app: str | None,
    now: datetime,
    received: str,
) -> PreparedEvent:
    event, tenant, occurred_at = valid
    event_type = plan.event_type
    # in UTC, the one zone object every event shares: the writer process is sent them pickled,
    # and a zone of each event's own cost more to pickle than the rest of the event
    occurred = now if occurred_at is None else occurred_at.astimezone(UTC)
    level = event.level or plan.level
    message_ja = plan.template.render("ja", values)
    message_en = plan.template.render("en", values)
    kansa_id = new_id()
    actor, targets, error = event.actor, event.targets, event.error
    first_target = targets[0] if targets else None
    app = event.app or default_app
    record = {
        "v": 1,
        "id": kansa_id,
        "client_id": event.id,
        "tenant": {"id": tenant.id, "name": tenant.name},
        "app": app,
        "product": event_type.product,
        "action": event.action,
        "category": event_type.category,
        "history": event_type.history,
        "occurred_at": iso_utc(occurred),
        "received_at": received,
        "result": event.result,
        "level": level,
        "actor": None
        if actor is None
        else {
            "id": actor.id,
            "name": actor.name,
            "login": actor.login,
            "email": actor.email,
            "type": actor.type,
        },
        "anonymous": event.anonymous,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "targets": [
            {"type": t.type, "id": t.id, "name": t.name, "login": t.login} for t in targets
        ],
        "params": event.params,
        "details": event.details,
        "trace_id": event.trace_id,
        "error": None if error is None else {"code": error.code, "message": error.message},
        "correlation_id": event.correlation_id,
        "message": {"ja": message_ja, "en": message_en},
    }
    service = event.params.get("service")
    return PreparedEvent(
        id=kansa_id,
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        layout=plan.layout,
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
        actor_id=actor.id if actor else None,
        actor_login=actor.login if actor else None,
        actor_name=actor.name if actor else None,
        ip=event.ip,
        target_id=first_target.id if first_target else None,
        target_name=first_target.name if first_target else None,
        correlation_id=event.correlation_id,
        trace_id=event.trace_id,
        message_ja=message_ja,
        message_en=message_en,
        service=service if isinstance(service, str) else None,
        search_text=_search_text_of(event, message_en, message_ja, app),
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
    the JSON keys, so searching "login" finds a login and not every event with an actor.
    Decoded JSON (what verify holds) is read at few calls: an event whose searched values are
    strings and nulls, alone or in objects (keys in order) and lists of them, is joined in one
    go (:func:`_joined_text`); any other, value by value, strings and nulls taken where they
    are met; anything else goes through :func:`walked_search_text`, whose text it is."""
    joined = _joined_text(event) if type(event) is dict else None
    if joined is not None:
        return joined
    parts: list[str] = []
    append = parts.append
    for name in SEARCHED:
        value = event.get(name)
        if type(value) is str:
            append(value)
        elif value is not None and not _into(value, parts):
            return walked_search_text(event)
    return "\x1f".join(parts).lower()


_searched = operator.itemgetter(*SEARCHED)
_not_null = functools.partial(operator.is_not, None)
_ORDERED_KEYS: set[tuple[str, ...]] = set()
"""Key tuples found in sorted order, so that an object's keys are sorted once per shape."""
_ORDERED_KEPT = 4096


def _joined_text(event: dict[str, Any]) -> str | None:
    """:func:`search_text` of a decoded event whose searched values are strings or nulls,
    alone, in an object whose keys are in sorted order (decoded canonical JSON: its values
    are then in the order :func:`_into` takes them) or in a list of such strings and
    objects — every value joined by C loops rather than appended one by one. None for any
    other event: a key missing, an object out of order, or anything but a string or null
    met in the join (a number, a bool, an object in an object) makes ``join`` refuse it."""
    try:
        values = _searched(event)
    except KeyError:
        return None
    ordered = _ORDERED_KEYS
    pieces: list[Iterable[Any]] = []
    add = pieces.append
    for value in values:
        kind = type(value)
        if kind is dict:
            if len(value) > 1 and tuple(value) not in ordered and not _ordered(value):
                return None
            add(value.values())
        elif kind is list:
            for item in value:
                if type(item) is not dict:
                    add((item,))
                elif len(item) > 1 and tuple(item) not in ordered and not _ordered(item):
                    return None
                else:
                    add(item.values())
        else:
            add((value,))
    try:
        return "\x1f".join(filter(_not_null, chain.from_iterable(pieces))).lower()
    except TypeError:  # a value that is neither a string nor a null
        return None


def _ordered(value: dict[str, Any]) -> bool:
    """Whether the keys of ``value`` come in sorted order (remembered for the next object of
    the same keys, up to :data:`_ORDERED_KEPT` sets of keys)."""
    keys = tuple(value)
    if list(keys) != sorted(keys):
        return False
    if len(_ORDERED_KEYS) < _ORDERED_KEPT:
        _ORDERED_KEYS.add(keys)
    return True


def _into(value: Any, parts: list[str]) -> bool:
    """Add the text of ``value`` to ``parts``; False at a type decoded JSON never holds."""
    kind = type(value)
    if kind is dict:
        items = map(value.__getitem__, sorted(value))
    elif kind is list:
        items = value
    elif kind is int or kind is float:
        parts.append(str(value))
        return True
    else:
        return kind is bool
    for item in items:
        if type(item) is str:
            parts.append(item)
        elif item is not None and not _into(item, parts):
            return False
    return True


def walked_search_text(event: Mapping[str, Any]) -> str:
    """:func:`search_text` of any mapping, value by value (mappings, subclasses of str and
    int, … as decoded JSON would hold them)."""
    parts: list[str] = []
    append = parts.append
    for name in SEARCHED:
        _walk(event.get(name), append)
    return "\x1f".join(parts).lower()


def _walk(value: Any, append: Callable[[str], None]) -> None:
    """Every searched value in ``value``, in the order of its canonical bytes."""
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
                _walk(item, append)
    elif value is None or isinstance(value, bool):
        return
    elif isinstance(value, str):
        append(value)
    elif isinstance(value, int | float):
        append(str(value))
    elif isinstance(value, Mapping):
        for key in sorted(value):
            _walk(value[key], append)
    elif isinstance(value, list):
        for item in value:
            _walk(item, append)


def _search_text_of(event: quick.Event, message_en: str, message_ja: str, app: str | None) -> str:
    """:func:`search_text` of the record :func:`_prepare` makes of ``event``, the same text
    made quicker: the shape of every field but params and details is known, so only those
    two are walked; every object's values in the order of its sorted keys."""
    parts = [message_en, message_ja]
    append = parts.append
    actor = event.actor
    if actor is not None:
        if actor.email is not None:
            append(actor.email)
        append(actor.id)
        if actor.login is not None:
            append(actor.login)
        if actor.name is not None:
            append(actor.name)
        if actor.type is not None:
            append(actor.type)
    for target in event.targets:
        if target.id is not None:
            append(target.id)
        if target.login is not None:
            append(target.login)
        if target.name is not None:
            append(target.name)
        if target.type is not None:
            append(target.type)
    for values in (event.params, event.details):  # as _walk would, a call fewer
        if values:
            for key in sorted(values):
                value = values[key]
                if type(value) is str:
                    append(value)
                elif value is not None:
                    _walk(value, append)
    for value in (event.ip, event.user_agent, event.trace_id):
        if value is not None:
            append(value)
    error = event.error
    if error is not None:
        if error.code is not None:
            append(error.code)
        if error.message is not None:
            append(error.message)
    if event.correlation_id is not None:
        append(event.correlation_id)
    if app is not None:
        append(app)
    return "\x1f".join(parts).lower()


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
    "EARLIEST",
    "LEVELS",
    "MAX_AHEAD",
    "MAX_CODE",
    "MAX_DEPTH",
    "MAX_DETAILS_BYTES",
    "MAX_ID",
    "MAX_IP",
    "MAX_NAME",
    "MAX_PARAMS",
    "MAX_PARAMS_BYTES",
    "MAX_PARAM_KEY",
    "MAX_TARGETS",
    "MAX_TEXT",
    "TENANT_ID_PATTERN",
    "EventIn",
    "PreparedEvent",
    "canonical",
    "prepare",
    "search_text",
    "service_of",
]
