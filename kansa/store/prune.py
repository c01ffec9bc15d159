"""SQL and row shapes the engines share for prunes: which events a prune takes, the
commitment each keeps, and the ``SET`` that empties them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kansa.errors import Conflict, NotFound, StoreError
from kansa.integrity.commitment import commit
from kansa.store.base import Prune, Pruned
from kansa.store.schema import PRUNED_TO_EMPTY, PRUNED_TO_NULL
from kansa.timeutil import to_micros

SELECT = (
    "SELECT {columns} FROM events WHERE tenant_id = {mark} AND seq <= {mark} AND seq > {mark}"
    " AND pruned IS NULL AND NOT (product = 'kansa' AND action IN"
    " ('retention.purge', 'privacy.erasure'))"
)
"""The events of a tenant up to a seq that a prune may take. kansa's own purge and erasure
records are never pruned: verify reads the chain's start in them, and they say what went."""


ROWS = "seq, body, prev_hash, occurred_at"
"""What :func:`commitments` reads of each event."""


def candidates(order: Prune, mark: str, columns: str = ROWS) -> tuple[str, list[Any]]:
    """The SELECT of ``columns`` of the events ``order`` may prune: the expired ones, or
    those in the range of its seqs."""
    text = SELECT.format(mark=mark, columns=columns)
    params: list[Any] = [order.tenant, order.through_seq or order.upto_seq, order.after_seq]
    if order.seqs:
        text += f" AND seq >= {mark} AND seq <= {mark}"
        params += [min(order.seqs), max(order.seqs)]
    else:
        expired = []
        for history in sorted(order.cutoffs):
            expired.append(f"(history = {mark} AND occurred_at < {mark})")
            params += [history, to_micros(order.cutoffs[history])]
        text += f" AND ({' OR '.join(expired) or '1 = 0'})"
    return text, params


Taken = tuple[int, bytes, int]
"""One event a prune takes: its seq, its commitment (stored bytes), when it occurred."""


def commitments(found: Sequence[Sequence[Any]], order: Prune) -> list[Taken]:
    """The events of ``found`` (rows of :func:`candidates`) that ``order`` names, each with
    the commitment made from its bytes."""
    taken: list[Taken] = []
    for seq, body, prev_hash, occurred_at in found:
        if order.seqs and seq not in order.seqs:
            continue
        try:
            kept = commit(bytes(body), prev_hash, int(seq)).to_bytes()
        except ValueError as exc:
            raise StoreError(f"cannot prune {order.tenant!r}: {exc}") from exc
        taken.append((int(seq), kept, int(occurred_at)))
    return taken


def assignments(mark: str, commitment: str) -> str:
    """The ``SET`` of a prune: the bytes emptied (parameter: ``b''``), the reason
    (parameter), the ``commitment`` (an SQL expression), every content column emptied."""
    emptied = [f"{c} = NULL" for c in PRUNED_TO_NULL] + [f"{c} = ''" for c in PRUNED_TO_EMPTY]
    return f"body = {mark}, pruned = {mark}, commitment = {commitment}, " + ", ".join(emptied)


def refusal(order: Prune, tenant: Sequence[Any] | None, upto: Sequence[Any] | None) -> None:
    """Raise :class:`Conflict` unless the tenant (its ``legal_hold`` read under lock) may be
    pruned and its event at ``order.upto_seq`` (its ``hash``) is still the one verified."""
    if tenant is None:
        raise NotFound(f"no tenant {order.tenant!r}")
    if tenant[0] is not None:
        raise Conflict(f"tenant {order.tenant!r} is under legal hold: {tenant[0]}")
    if order.upto_seq and (upto is None or upto[0] != order.upto_hash):
        raise Conflict(f"tenant {order.tenant!r}: seq {order.upto_seq} changed since it verified")


TENANT = "SELECT legal_hold FROM tenants WHERE id = {mark}"
UPTO = "SELECT hash FROM events WHERE tenant_id = {mark} AND seq = {mark}"


def outcome(order: Prune, taken: Sequence[Taken], partitions: Sequence[str] = ()) -> Pruned:
    seqs = [seq for seq, _, _ in taken]
    low, high = min(seqs, default=0), max(seqs, default=0)
    return Pruned(order.tenant, order.reason, len(seqs), low, high, tuple(partitions))
