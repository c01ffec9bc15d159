"""One-dimensional PostgreSQL arrays written out in the server's binary form, for a
statement that takes its rows as one array a column (the guessed append of
:mod:`kansa.store.postgres`).

psycopg can dump a Python list as an array itself, but it looks at every list's elements to
choose their type and dimensions, in Python, for every array of every statement: ~0.17 ms of
an append's ~0.5 ms of CPU with one event, whose statement takes 34 arrays. Here each
column's type is known before (:data:`KINDS`), and an array is its header and, for each
element, its length and bytes, as the server's ``array_recv`` reads them, made with no look
at the elements beyond each one's type.

An element of another type than its column's (``None`` aside) raises :class:`Unpackable`,
as does a string Python cannot write in UTF-8 (a lone surrogate), so a caller can fall back
to the way that checks everything.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.adapt import Dumper
from psycopg.pq import Format

from kansa.store.terms import tsvector_bytes

_LENGTH = struct.Struct("!i").pack
_INT8 = struct.Struct("!q").pack
_NULL = _LENGTH(-1)


class Unpackable(ValueError):
    """A value that is not of its column's type."""


@dataclass(frozen=True, slots=True)
class Kind:
    """A column type: the OIDs of its element and of its array, and how an element's bytes
    are made."""

    element: int
    array: int
    data: Callable[[Any], bytes]


def _text(value: Any) -> bytes:
    if type(value) is not str:
        raise Unpackable(f"{type(value).__name__} in a text column")
    return value.encode()


def _bytea(value: Any) -> bytes:
    if type(value) is not bytes:
        raise Unpackable(f"{type(value).__name__} in a bytea column")
    return value


def _int8(value: Any) -> bytes:
    if type(value) is not int:
        raise Unpackable(f"{type(value).__name__} in an int8 column")
    try:
        return _INT8(value)
    except struct.error as exc:
        raise Unpackable(f"{value} is out of int8's range") from exc


def _tsvector(value: Any) -> bytes:
    if not isinstance(value, str):
        raise Unpackable(f"{type(value).__name__} in a tsvector column")
    return tsvector_bytes(value)


KINDS: dict[str, Kind] = {
    "text": Kind(25, 1009, _text),
    "int8": Kind(20, 1016, _int8),
    "bytea": Kind(17, 1001, _bytea),
    "tsvector": Kind(3614, 3643, _tsvector),
}
"""The column types the guessed append sends, by the name its statement casts them to."""


class Packed(bytes):
    """An array in PostgreSQL's binary form; each kind has a subclass of its own, whose
    dumper tells the server the array's type."""

    __slots__ = ()


def _packed_class(kind: Kind) -> tuple[type[Packed], type[Dumper]]:
    packed = type(f"Packed{kind.array}", (Packed,), {"__slots__": ()})

    class PackedDumper(Dumper):
        format = Format.BINARY
        oid = kind.array

        def dump(self, obj: Any) -> bytes:
            packed: bytes = obj  # a Packed is the bytes to send, as they are
            return packed

    return packed, PackedDumper


_CLASSES = {name: _packed_class(kind) for name, kind in KINDS.items()}


def dumpers() -> list[tuple[type[Packed], type[Dumper]]]:
    """Each :class:`Packed` class with its dumper, to register on a connection."""
    return list(_CLASSES.values())


def pack(kind_name: str, values: Sequence[Any]) -> Packed:
    """``values`` as an array of ``kind_name`` (a key of :data:`KINDS`); :class:`Unpackable`
    at a value of another type."""
    kind = KINDS[kind_name]
    packed_class = _CLASSES[kind_name][0]
    if not values:
        return packed_class(struct.pack("!iii", 0, 0, kind.element))
    parts: list[bytes] = []
    append, data, nulls = parts.append, kind.data, 0
    for value in values:
        if value is None:
            append(_NULL)
            nulls = 1
            continue
        try:
            made = data(value)
        except UnicodeEncodeError as exc:
            raise Unpackable(f"text UTF-8 cannot hold: {exc.reason}") from exc
        append(_LENGTH(len(made)))
        append(made)
    header = struct.pack("!iiiii", 1, nulls, kind.element, len(values), 1)
    return packed_class(header + b"".join(parts))
