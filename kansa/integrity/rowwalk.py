"""The walk ``kansa verify`` takes first: each stored row read as the tuple the driver gives,
its columns compared at once with the same values read from the hashed bytes.

:func:`~kansa.integrity.chain.verify` takes :class:`~kansa.integrity.chain.StoredLink` links,
each with its columns in a dict and its times formatted by Python: building them cost more
than hashing the row. Here a store gives each row as a tuple — ``seq, body, hash,
prev_hash, pruned, commitment`` and the columns kept beside the bytes, in the order of the
``paths`` the walk is given, its two times already written by the database as
:func:`~kansa.timeutil.iso_utc` writes them — and the walk reads those paths from the
decoded event into a tuple of its own: one comparison for the row, with ``==`` as
:func:`~kansa.integrity.chain.verify` compares. A body of the shape kansa writes is decoded
into msgspec structs (:mod:`kansa.integrity.shaped`, which reads what orjson reads or
nothing), any other into dicts by orjson. It only ever vouches: at anything else — a
difference, a row that is not as kansa writes it — it gives up (None) and the caller walks
the chain the column-by-column way, which names the break exactly as it always has.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kansa.integrity import shaped
from kansa.integrity.chain import StoredLink, Walk, check_pruned, walk_path
from kansa.integrity.shaped import Event, decode

ChainRow = tuple[Any, ...]
"""A stored event as a store reads it for :func:`walk_rows`: ``seq, body, hash, prev_hash,
pruned, commitment``, then its columns."""

PURGE_ACTION = ("kansa", "retention.purge")


@dataclass(slots=True)
class Walked:
    """A chain :func:`walk_rows` vouches for, and the chain start its last
    ``retention.purge`` event says it left (None: no such event)."""

    walk: Walk
    purge_claim: tuple[Any, Any] | None


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a store's rows keep what :func:`walk_rows` reads: each column's path in the
    event (or a ``derived`` one, computed from it), the columns that hold a time (None where
    the database could not write it as kansa does), and those a pruned event empties."""

    paths: Sequence[str]
    derived: Mapping[str, Callable[[Mapping[str, Any]], Any]]
    times: Sequence[int]
    content: Sequence[int]


def walk_rows(
    tenant: str,
    rows: Iterable[ChainRow],
    layout: Layout,
    *,
    start_seq: int,
    start_hash: str,
    anchors: Mapping[int, str],
) -> Walked | None:
    """Walk ``rows`` as :func:`~kansa.integrity.chain.verify` would; None at the first row
    it cannot vouch for (the rest of ``rows`` is left unread)."""
    walk = Walk(tenant, head_seq=start_seq - 1, head_hash=start_hash)
    expected, prev = start_seq, start_hash
    values, structs = reader(layout), struct_reader(layout)
    times = _taking([6 + n for n in layout.times])
    claim: tuple[Any, Any] | None = None
    checked = pruned = 0
    sha256, loads = hashlib.sha256, orjson.loads
    for row in rows:
        seq, body, hashed = row[0], row[1], row[2]
        if seq != expected or row[3] != prev:
            return None
        if row[4] is not None:
            columns = row[6:]
            if not _pruned_intact(row, [columns[n] for n in layout.content], prev):
                return None
            pruned += 1
        else:
            if type(body) is not bytes or sha256(body).hexdigest() != hashed:
                return None
            shape = decode(body) if structs is not None else None
            if (
                shape is not None
                and structs is not None
                and (
                    shape.event.action != PURGE_ACTION[1] or shape.event.product != PURGE_ACTION[0]
                )
            ):
                if shape.seq != seq or shape.prev_hash != prev or structs(shape.event) != row[6:]:
                    return None
            else:  # read as a dict: any other shape, and a purge (whose params it reads)
                try:
                    envelope = loads(body)
                except orjson.JSONDecodeError:
                    return None
                if type(envelope) is not dict or envelope.get("seq") != seq:
                    return None
                if envelope.get("prev_hash") != prev:
                    return None
                event = envelope.get("event") or {}
                if type(event) is not dict or values(event) != row[6:]:
                    return None
                if (
                    event.get("action") == PURGE_ACTION[1]
                    and event.get("product") == PURGE_ACTION[0]
                ):
                    params = event.get("params", {})
                    if type(params) is not dict:
                        return None
                    claim = (params.get("chain_start_seq"), params.get("chain_start_prev_hash"))
            if None in times(row):
                return None  # not written as kansa writes a time: read the column itself
        if seq in anchors:
            if anchors[seq] != hashed:
                return None
            walk.anchors += 1
        checked += 1
        expected, prev = seq + 1, hashed
    walk.checked, walk.pruned = checked, pruned
    if checked:
        walk.head_seq, walk.head_hash = expected - 1, prev
    return Walked(walk, claim)


def _taking(indexes: Sequence[int]) -> Callable[[ChainRow], tuple[Any, ...]]:
    """The function taking the values at ``indexes`` from a row, as a tuple."""
    if len(indexes) > 1:
        return operator.itemgetter(*indexes)
    return lambda row: tuple(row[n] for n in indexes)


def _pruned_intact(row: ChainRow, content: list[Any], prev: str) -> bool:
    body, commitment = row[1], row[5]
    stored = StoredLink(
        row[0],
        body.encode() if isinstance(body, str) else bytes(body),
        row[2],
        row[3],
        {str(n): value for n, value in enumerate(content)},
        "retention",
        bytes(commitment) if commitment is not None else None,
    )
    return check_pruned(stored, prev) == ""


def reader(layout: Layout) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The function reading ``layout``'s columns from a hashed event: :func:`_values`, made
    once for a layout's paths."""
    return _reader(tuple(layout.paths), tuple(layout.derived.items()))


def struct_reader(layout: Layout) -> Callable[[Event], tuple[Any, ...]] | None:
    """The function reading ``layout``'s columns from an event read into structs
    (:func:`kansa.integrity.shaped.reader`), made once for a layout's paths; None where the
    structs do not hold them all."""
    return _struct_reader(tuple(layout.paths), tuple(layout.derived.items()))


@functools.lru_cache(maxsize=16)
def _struct_reader(
    paths: tuple[str, ...], derived: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...]
) -> Callable[[Event], tuple[Any, ...]] | None:
    return shaped.reader(paths, dict(derived))


@functools.lru_cache(maxsize=16)
def _reader(
    paths: tuple[str, ...], derived: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...]
) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    return _values(paths, dict(derived))


def _values(
    paths: Sequence[str], derived: Mapping[str, Callable[[Mapping[str, Any]], Any]]
) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The function reading, from a hashed event (a dict), the value of each of ``paths`` —
    as :func:`~kansa.integrity.chain.verify` reads it — in that order. It reads fastest with
    the paths of one key first (taken by one ``itemgetter``), then the deeper ones, grouped by
    their first key, then the derived ones.

    An event as kansa writes it — every key of one key's paths there, each group's key an
    object (or null; a list, or null, where the path takes an index) — is read by
    :func:`_straight`, one call with no loop; any other by :func:`_looped`, path by path."""
    parsed = _parsed(paths, derived)
    return _straight(parsed, _looped(parsed))


@dataclass(frozen=True, slots=True)
class _Paths:
    """A layout's paths as the readers take them: those of one key, the deeper ones grouped
    by their first key, and the derived columns' functions."""

    firsts: Sequence[str]
    groups: Sequence[_Group]
    computed: Sequence[Callable[[Mapping[str, Any]], Any]]


def _parsed(
    paths: Sequence[str], derived: Mapping[str, Callable[[Mapping[str, Any]], Any]]
) -> _Paths:
    firsts: list[str] = []
    groups: list[_Group] = []
    computed: list[Callable[[Mapping[str, Any]], Any]] = []
    for path in paths:
        parts = tuple(path.split("."))
        if path in derived:
            computed.append(derived[path])
        elif computed:
            raise ValueError(f"{path!r} follows a derived column")
        elif len(parts) == 1 and not groups:
            firsts.append(path)
        else:
            _group(groups, parts)
    return _Paths(firsts, groups, computed)


def _looped(paths: _Paths) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The reader of any event, path by path."""
    firsts, groups, computed = paths.firsts, paths.groups, paths.computed
    take = operator.itemgetter(*firsts) if len(firsts) > 1 else None

    def values(event: dict[str, Any]) -> tuple[Any, ...]:
        get = event.get
        out: list[Any]
        try:
            out = list(take(event)) if take is not None else [get(key) for key in firsts]
        except KeyError:
            out = [get(key) for key in firsts]
        extend = out.extend
        for top, at, keys, rests in groups:
            value = get(top)
            if at is not None and type(value) is list:
                value = value[at] if at < len(value) else None
            elif at is not None and value is not None:
                extend([walk_path(value, (str(at), *rest)) for rest in rests])
                continue
            if type(value) is dict:
                extend([value.get(key) for key in keys])
            elif value is None:
                extend([None] * len(keys))
            else:
                extend([walk_path(value, rest) for rest in rests])
        for compute in computed:
            out.append(compute(event))
        return tuple(out)

    return values


def _straight(
    paths: _Paths, otherwise: Callable[[dict[str, Any]], tuple[Any, ...]]
) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The reader of ``paths`` written out as one function with no loop, which hands an
    event it cannot read so to ``otherwise`` (:func:`_looped`, that reads it alike). For the
    columns of :data:`~kansa.store.rows.VERIFY_COLUMNS` it reads::

        def values(event):
            try:
                first = take(event)  # id, client_id, … trace_id
            except KeyError:
                return otherwise(event)
            g0 = event.get('tenant')
            if g0 is None:
                g0 = EMPTY
            …
            g2 = event.get('targets')
            if type(g2) is list:
                g2 = g2[0] if len(g2) > 0 else EMPTY
            elif g2 is None:
                g2 = EMPTY
            else:
                return otherwise(event)
            …
            if type(g0) is not dict or … :
                return otherwise(event)
            return (*first, g0.get('id'), …, g4.get('service'), derived0(event))

    where ``EMPTY`` is ``{}``: a null (or a list too short) reads as null at every key below,
    as :func:`~kansa.integrity.chain.walk_path` reads it."""
    firsts, groups, computed = paths.firsts, paths.groups, paths.computed
    scope: dict[str, Any] = {
        "take": operator.itemgetter(*firsts) if firsts else None,
        "otherwise": otherwise,
        "EMPTY": {},
        **{f"derived{n}": compute for n, compute in enumerate(computed)},
    }
    lines = ["def values(event):"]
    read = ["*first" if len(firsts) > 1 else "first"] if firsts else []
    if firsts:
        lines += ["    try:", "        first = take(event)", "    except KeyError:"]
        lines += ["        return otherwise(event)"]
    for n, (top, at, keys, _) in enumerate(groups):
        name = f"g{n}"
        lines.append(f"    {name} = event.get({top!r})")
        if at is None:
            lines += [f"    if {name} is None:", f"        {name} = EMPTY"]
        else:
            lines += [f"    if type({name}) is list:"]
            lines += [f"        {name} = {name}[{at}] if len({name}) > {at} else EMPTY"]
            lines += [f"    elif {name} is None:", f"        {name} = EMPTY"]
            lines += ["    else:", "        return otherwise(event)"]
        read += [f"{name}.get({key!r})" for key in keys]
    if groups:
        odd = " or ".join(f"type(g{n}) is not dict" for n in range(len(groups)))
        lines += [f"    if {odd}:", "        return otherwise(event)"]
    read += [f"derived{n}(event)" for n in range(len(computed))]
    lines.append(f"    return ({', '.join(read)},)" if read else "    return ()")
    exec("\n".join(lines), scope)  # noqa: S102 - source made above from the layout's paths
    function: Callable[[dict[str, Any]], tuple[Any, ...]] = scope["values"]
    return function


_Group = tuple[str, int | None, tuple[str, ...], tuple[tuple[str, ...], ...]]
"""Paths read under one key: the key, the list index taken first (``targets.0.id``) or
None, and the last key and the rest of each path below the key (and index)."""


def _group(groups: list[_Group], parts: tuple[str, ...]) -> None:
    """Add the path ``parts`` to the group of its first key (and index), or a new one."""
    top, *rest = parts
    at = int(rest[0]) if len(rest) == 2 and rest[0].isdigit() else None
    below = tuple(rest[1:] if at is not None else rest)
    if len(below) != 1:
        raise ValueError(f"{'.'.join(parts)!r} is not key.key nor key.index.key")
    if groups and groups[-1][:2] == (top, at):
        _, _, keys, rests = groups[-1]
        groups[-1] = (top, at, (*keys, below[0]), (*rests, below))
    else:
        groups.append((top, at, below, (below,)))
