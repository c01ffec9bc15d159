"""The hash chain: how each tenant's events are linked, and how a chain is checked.

Each stored event keeps the exact bytes that were hashed::

    {"event":<canonical event>,"prev_hash":"<hex>","seq":<n>}

— canonical JSON itself (sorted keys, no spaces, UTF-8) — and ``hash = SHA-256(bytes)``. The
first event of a tenant links to :data:`GENESIS`. Linking is one step, :meth:`Head.step`, that
every engine (and the benchmark) takes through :class:`Chains`. Checking needs nothing but the
rows, so the same :func:`verify` walks a database or an exported file.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from kansa.integrity.commitment import Commitment, resume

GENESIS = "0" * 64

Pruning = Literal["retention", "erasure"]
"""Why an event's content was removed: its retention period ended, or its subject asked."""
PRUNINGS: tuple[Pruning, ...] = ("retention", "erasure")


def link(core: bytes, prev_hash: str, seq: int) -> bytes:
    """The bytes that are hashed and stored for the event ``core`` at ``seq``."""
    return b'{"event":%b,"prev_hash":"%b","seq":%d}' % (core, prev_hash.encode("ascii"), seq)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredLink:
    """What a store (or a file) holds for one event: the hashed bytes, the hash, and the
    columns kept beside them for searching, which must agree with the bytes."""

    seq: int
    body: bytes
    hash: str
    prev_hash: str
    columns: Mapping[str, Any] = field(default_factory=dict)
    pruned: Pruning | None = None
    """Why the event's content was removed (its bytes are then empty); None: it is whole."""
    commitment: bytes | None = None
    """For a pruned event, its :class:`~kansa.integrity.commitment.Commitment`, stored."""


@dataclass(frozen=True, slots=True)
class Head:
    """Where a tenant's chain stands: its last seq and that event's hash (before the first
    event, 0 and :data:`GENESIS`)."""

    seq: int = 0
    hash: str = GENESIS

    def step(self, core: bytes) -> tuple[StoredLink, Head]:
        """The event ``core`` linked after this head, and the head after it."""
        seq = self.seq + 1
        body = link(core, self.hash, seq)
        hashed = digest(body)
        return StoredLink(seq, body, hashed, self.hash), Head(seq, hashed)


def extend(head: Head, cores: Iterable[bytes]) -> tuple[list[StoredLink], Head]:
    """The events ``cores`` linked one after another from ``head``, and the new head."""
    links: list[StoredLink] = []
    for core in cores:
        stored, head = head.step(core)
        links.append(stored)
    return links, head


class Chains:
    """The heads of several tenants' chains while a batch of events is linked onto them; a
    tenant not in ``heads`` starts at genesis."""

    def __init__(self, heads: Mapping[str, Head] | None = None) -> None:
        self.heads: dict[str, Head] = dict(heads or {})
        self.moved: dict[str, Head] = {}
        """The heads that :meth:`extend` advanced, as they now stand."""

    def extend(self, tenant: str, core: bytes) -> StoredLink:
        """Link the event ``core`` onto ``tenant``'s chain and advance its head."""
        stored, head = self.heads.get(tenant, Head()).step(core)
        self.heads[tenant] = self.moved[tenant] = head
        return stored


@dataclass(frozen=True, slots=True)
class Break:
    """The first place a chain is not intact."""

    tenant: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"tenant {self.tenant}: chain broken at seq {self.seq}: {self.reason}"


@dataclass(slots=True)
class Walk:
    """The outcome of checking one tenant's chain."""

    tenant: str
    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    broken: Break | None = None
    anchors: int = 0
    """Signed checkpoints the chain was found to agree with."""
    pruned: int = 0
    """Events whose content was removed, each linked by its commitment instead."""


def verify(
    tenant: str,
    links: Iterable[StoredLink],
    *,
    start_seq: int = 1,
    start_hash: str = GENESIS,
    derived: Mapping[str, Callable[[Mapping[str, Any]], Any]] | None = None,
    anchors: Mapping[int, str] | None = None,
) -> Walk:
    """Walk ``links`` in sequence order; stop at the first break.

    A row whose bytes no longer give its hash was changed; a gap in ``seq`` is a deleted
    event; a row whose ``prev_hash`` is not the hash before it was inserted or moved; a column
    that disagrees with the hashed bytes was changed beside them. ``derived`` gives, for a
    column computed from the event rather than copied from it, how to compute it.
    ``anchors`` maps a seq to the hash a signed checkpoint holds for it: a chain rewritten
    consistently up to that seq still differs there.
    """
    walk = Walk(tenant, head_seq=start_seq - 1, head_hash=start_hash)
    expected_seq, prev = start_seq, start_hash
    anchored = start_seq - 1
    readers = _Readers(derived or {})
    for row in links:
        reason = _check(row, expected_seq, prev, readers)
        if not reason and anchors and row.seq in anchors:
            if anchors[row.seq] != row.hash:
                reason = (
                    f"hash differs from the signed checkpoint at seq {row.seq}: an event of "
                    f"seq {anchored + 1}-{row.seq} was changed and the chain rewritten"
                )
            else:
                walk.anchors += 1
                anchored = row.seq
        if reason:
            walk.broken = Break(tenant, expected_seq, reason)
            return walk
        walk.checked += 1
        walk.pruned += row.pruned is not None
        walk.head_seq, walk.head_hash = row.seq, row.hash
        expected_seq, prev = row.seq + 1, row.hash
    return walk


Reader = Callable[[Mapping[str, Any]], Any]


class _Readers(dict[str, Reader]):
    """Column name → the function reading that column's value from a hashed event: the
    ``derived`` one, else its path, split once per walk rather than once per row."""

    def __init__(self, derived: Mapping[str, Reader]) -> None:
        super().__init__(derived)

    def __missing__(self, column: str) -> Reader:
        parts = tuple(column.split("."))
        reader: Reader = functools.partial(walk_path, parts=parts)
        self[column] = reader
        return reader


def _check(row: StoredLink, expected_seq: int, prev: str, readers: _Readers) -> str:
    if row.seq < expected_seq:
        return f"seq {row.seq} appears again or out of order (expected {expected_seq})"
    if row.seq > expected_seq:
        missing = (
            f"{expected_seq}" if row.seq == expected_seq + 1 else (f"{expected_seq}-{row.seq - 1}")
        )
        return f"event(s) missing: seq {missing}"
    if row.pruned is not None:
        return check_pruned(row, prev)
    if digest(row.body) != row.hash:
        return "stored bytes do not match their hash (event changed)"
    try:
        envelope = orjson.loads(row.body)
    except orjson.JSONDecodeError:
        return "stored bytes are not JSON"
    if envelope.get("seq") != row.seq:
        return f"hashed seq {envelope.get('seq')} differs from the row's seq (event moved)"
    if envelope.get("prev_hash") != prev or row.prev_hash != prev:
        return "previous-hash link does not match the event before it (inserted or moved)"
    event = envelope.get("event") or {}
    for column, value in row.columns.items():
        if readers[column](event) != value:
            return f"column {column!r} differs from the hashed event (changed in place)"
    return ""


def check_pruned(row: StoredLink, prev: str) -> str:
    """A pruned event: its commitment, linked to the event before it, gives its hash."""
    if row.prev_hash != prev:
        return "previous-hash link does not match the event before it (inserted or moved)"
    try:
        kept = Commitment.from_bytes(row.commitment or b"")
    except ValueError as exc:
        return f"pruned event's commitment is unreadable ({exc})"
    if resume(kept, prev, row.seq) != row.hash:
        return "pruned event's commitment does not give its hash (event changed)"
    if row.body or any(value not in (None, "") for value in row.columns.values()):
        return "a pruned event still holds content beside its commitment"
    return ""


def walk_path(event: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    value: Any = event
    for part in parts:
        if value is None:
            return None
        if type(value) is dict or isinstance(value, Mapping):  # decoded JSON: a dict
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            return None
    return value
