"""The hashed event of the shape kansa writes, read by msgspec into structs for the row walk:
the envelope, the event's keys and the objects in it — each string or null, ``anonymous`` a
bool, a param or detail a string, null, bool, whole number of 64 bits or list of strings —
read in one C call, with no dict built for any object.

It only ever reads what :func:`orjson.loads` reads, the same values: both take the last of a
key given twice, refuse the same bytes (not UTF-8, a lone surrogate, a control character, a
bad escape or number, trailing bytes) and read strings, nulls, bools and whole numbers of 64
bits alike. Anything else it refuses: a key it does not know, a value of another type — a
float, a number past 64 bits, a null event, an object in a param. :func:`decode` then gives
None and the row walk reads that row's bytes with :func:`orjson.loads` as before, so the
checks and what a break reports are those of the dict path in every case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import msgspec
from msgspec.structs import astuple

from kansa.events.prepare import search_text

Text = str | None
Whole = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
"""A whole number of 64 bits, as orjson reads it too (an int; past 64 bits a float)."""
Value = Text | bool | Whole | list[Text]
"""A param or detail as the row walk reads it here."""


class _Object(msgspec.Struct, forbid_unknown_fields=True):
    """An object of the event: its fields in sorted order, as :func:`search_text` takes an
    object's values."""


class Tenant(_Object):
    id: Text = None
    name: Text = None


class Actor(_Object):
    email: Text = None
    id: Text = None
    login: Text = None
    name: Text = None
    type: Text = None


class Target(_Object):
    id: Text = None
    login: Text = None
    name: Text = None
    type: Text = None


class Message(_Object):
    en: Text = None
    ja: Text = None


class ErrorInfo(_Object):
    code: Text = None
    message: Text = None


class Event(_Object):
    action: Text = None
    actor: Actor | None = None
    anonymous: bool | None = None
    app: Text = None
    category: Text = None
    client_id: Text = None
    correlation_id: Text = None
    details: dict[str, Value] | None = None
    error: ErrorInfo | None = None
    history: Text = None
    id: Text = None
    ip: Text = None
    level: Text = None
    message: Message | None = None
    occurred_at: Text = None
    params: dict[str, Value] | None = None
    product: Text = None
    received_at: Text = None
    result: Text = None
    targets: list[Target] | None = None
    tenant: Tenant | None = None
    trace_id: Text = None
    user_agent: Text = None
    v: Whole | None = None


class Envelope(_Object):
    event: Event
    prev_hash: str
    seq: int


_decode = msgspec.json.Decoder(Envelope).decode


def decode(body: bytes) -> Envelope | None:
    """The hashed envelope ``body`` read into structs; None where it is not of the shape
    above (or not JSON): the dict path reads it then."""
    try:
        return _decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


_OBJECTS: dict[str, type[_Object]] = {
    "tenant": Tenant,
    "actor": Actor,
    "targets": Target,
    "message": Message,
    "error": ErrorInfo,
}
"""The event's keys that hold an object (``targets``: a list of them)."""
_MAPS = ("params", "details")


def event_text(event: Event) -> str:
    """:func:`~kansa.events.prepare.search_text` of the event read into ``event``: the same
    values taken in the same order (an object's values in the order of its sorted keys —
    the fields' order here —, a number as ``str`` writes it, bools left out)."""
    parts: list[Any] = []
    extend = parts.extend
    if event.message is not None:
        extend(astuple(event.message))
    if event.actor is not None:
        extend(astuple(event.actor))
    for target in event.targets or ():
        extend(astuple(target))
    for values in (event.params, event.details):
        if values:
            for key in sorted(values):
                value = values[key]
                if type(value) is str:
                    parts.append(value)
                elif type(value) is int:
                    parts.append(str(value))
                elif type(value) is list:
                    extend(value)
    extend((event.ip, event.user_agent, event.trace_id))
    if event.error is not None:
        extend(astuple(event.error))
    extend((event.correlation_id, event.app))
    return "\x1f".join([part for part in parts if part is not None]).lower()


_DERIVED: dict[Callable[..., Any], Callable[[Event], Any]] = {search_text: event_text}
"""The derived columns read here: by the function the dict path computes them with."""


def reader(
    paths: Sequence[str], derived: Mapping[str, Callable[..., Any]]
) -> Callable[[Event], tuple[Any, ...]] | None:
    """The function reading ``paths`` from an event read into structs as
    :func:`~kansa.integrity.chain.walk_path` reads them from the dict, in one call with no
    loop; None where a path is not one of the shape's (or a derived column one it does not
    compute): the row walk then reads every row as a dict."""
    scope: dict[str, Any] = {"DICT": {}}
    lines = ["def values(event):"]
    read: list[str] = []
    tops: dict[tuple[str, int | None], str] = {}
    for path in paths:
        if path in derived:
            compute = _DERIVED.get(derived[path])
            if compute is None:
                return None
            name = f"derived{len(scope)}"
            scope[name] = compute
            read.append(f"{name}(event)")
            continue
        parts = path.split(".")
        field = parts[0]
        if field not in Event.__struct_fields__:
            return None
        if len(parts) == 1:
            if field in _OBJECTS or field in _MAPS:
                return None  # an object: the dict path compares the dict itself
            read.append(f"event.{field}")
            continue
        at = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
        key = parts[-1]
        if len(parts) != (2 if at is None else 3):
            return None
        local = tops.get((field, at))
        if local is None:
            local = tops[(field, at)] = f"g{len(tops)}"
            lines += _object_lines(local, field, at, scope)
        shape = _OBJECTS.get(field)
        if field in _MAPS and at is None:
            read.append(f"{local}.get({key!r})")
        elif (
            shape is not None
            and key in shape.__struct_fields__
            and (at is None) == (field != "targets")
        ):
            read.append(f"{local}.{key}")
        else:
            return None
    lines.append(f"    return ({', '.join(read)},)" if read else "    return ()")
    exec("\n".join(lines), scope)  # noqa: S102 - source made above from the layout's paths
    function: Callable[[Event], tuple[Any, ...]] = scope["values"]
    return function


def _object_lines(local: str, field: str, at: int | None, scope: dict[str, Any]) -> list[str]:
    """The lines binding ``local`` to the object at ``field`` (and index ``at``) of the
    event, or to an empty one where there is none (every key below it reads as null)."""
    lines = [f"    {local} = event.{field}"]
    if field in _MAPS:
        return [*lines, f"    if {local} is None:", f"        {local} = DICT"]
    shape = _OBJECTS.get(field)
    empty = f"EMPTY_{field}"
    if shape is not None:
        scope[empty] = shape()
    if at is not None:
        return [
            *lines,
            f"    {local} = {local}[{at}] if {local} and len({local}) > {at} else {empty}",
        ]
    return [*lines, f"    if {local} is None:", f"        {local} = {empty}"]
