"""A tenant's chain walked in slices of its seqs, by this process and others at once.

``kansa verify`` keeps both cores busy to the end by walking runs of at most :data:`SLICE`
events rather than whole tenants: a large tenant is shared between the processes, and the
last walks to finish are short. A slice after the first starts at the hash stored at the
seq before it, read with its rows; the slices are then joined by checking every seam — the
slice before must have ended at that very seq with that very hash — so that a chain walked
in slices is checked link by link as one walk checks it. A slice the row walk cannot vouch
for, or a seam that does not join, leaves the tenant to the column-by-column walk, which
names the break.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import operator
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import compress, repeat

from kansa.events.prepare import search_text
from kansa.integrity.chain import Walk
from kansa.integrity.rowwalk import ChainRow, Layout, Walked, walk_rows
from kansa.store import Store
from kansa.store.rows import VERIFY_COLUMNS
from kansa.store.schema import PRUNED_TO_EMPTY, PRUNED_TO_NULL

_NAMES = [column for column, _ in VERIFY_COLUMNS]
ROW_LAYOUT = Layout(
    paths=[path for _, path in VERIFY_COLUMNS],
    derived={"search_text": search_text},
    times=[_NAMES.index("occurred_at"), _NAMES.index("received_at")],
    content=[_NAMES.index(column) for column in (*PRUNED_TO_NULL, *PRUNED_TO_EMPTY)],
)
"""Where :meth:`~kansa.store.Store.chain_rows` keeps what the row walk reads."""

SLICE = 10_000
"""Events a slice holds at most."""


@dataclass(frozen=True, slots=True)
class Slice:
    """The events of ``tenant`` after seq ``after`` up to ``upto``, linked to
    ``start_hash`` — or, where it is None, to the hash stored at seq ``after``."""

    tenant: str
    after: int
    upto: int
    start_hash: str | None
    anchors: Mapping[int, str]


@dataclass(frozen=True, slots=True)
class Sliced:
    """A slice walked: the hash it started from, what the row walk vouched for (None: it
    could not), and whether the idempotency key rows of its seqs agree with its events
    (:meth:`~kansa.store.Store.key_problem`; False also where the walk was not vouched for)."""

    slice: Slice
    start_hash: str
    walked: Walked | None
    keys_agree: bool = False


def slices(
    tenant: str, start: int, start_hash: str, head: int, anchors: Mapping[int, str]
) -> list[Slice]:
    """The slices of ``tenant``'s chain from seq ``start`` (linked to ``start_hash``) to
    ``head``, each with the ``anchors`` among its seqs; one, empty, for an empty chain."""
    cuts = list(range(start - 1, head, SLICE)) or [start - 1]
    ends = [*cuts[1:], head]
    seqs = sorted(anchors)
    return [
        Slice(
            tenant,
            after,
            upto,
            start_hash if n == 0 else None,
            {
                seq: anchors[seq]
                for seq in seqs[bisect_right(seqs, after) : bisect_right(seqs, upto)]
            },
        )
        for n, (after, upto) in enumerate(zip(cuts, ends, strict=True))
    ]


def walk_slice(store: Store, part: Slice) -> Sliced:
    """Walk ``part`` with the row walk; where the engine keeps key rows apart (PostgreSQL),
    hold them against the events the walk vouched for (:func:`_keys_held`)."""
    held = store.key_rows(part.tenant, part.after + 1, part.upto)
    rows: Iterable[ChainRow] = store.chain_rows(
        part.tenant, part.after - (part.start_hash is None), part.upto
    )
    if held is not None:
        rows = list(rows)  # read again below, for their keys
    walked_rows = iter(rows)
    start_hash = part.start_hash
    if start_hash is None:
        first = next(walked_rows, None)
        if first is None or first[0] != part.after:
            return Sliced(part, "", None)
        start_hash = str(first[2])
    walked = walk_rows(
        part.tenant,
        walked_rows,
        ROW_LAYOUT,
        start_seq=part.after + 1,
        start_hash=start_hash,
        anchors=part.anchors,
    )
    if walked is None:
        return Sliced(part, start_hash, None)
    if held is None:
        return Sliced(part, start_hash, walked, True)
    assert isinstance(rows, list)
    return Sliced(part, start_hash, walked, _keys_held(rows[part.start_hash is None :], held))


_KEY_OF = operator.itemgetter(
    6 + _NAMES.index("client_id"), 6 + _NAMES.index("id"), 0, 2, 6 + _NAMES.index("occurred_at")
)
"""A chain row's ``client_id, id, seq, hash, occurred_at``, as :meth:`~kansa.store.Store.
key_rows` reads a key row."""
_CLIENT_ID = operator.itemgetter(6 + _NAMES.index("client_id"))
_TIME_OF = operator.itemgetter(4)


def _keys_held(rows: list[ChainRow], held: list[ChainRow]) -> bool:
    """Whether the key rows ``held`` of a slice (in seq order) agree with its events
    ``rows`` as :meth:`~kansa.store.Store.key_problem` holds them: every event with a
    client id has the key row of that client id, id, seq, hash and time, and no key row is
    left over — the events with a client id, in seq order, are the key rows. A time is
    compared as both are written, which tells every two times apart but those not written
    (NULL): a key row whose time is not written is never taken to agree. False only sends
    the tenant to :meth:`~kansa.store.Store.key_problem`, over its whole chain."""
    if None in map(_TIME_OF, held):
        return False
    keyed = map(operator.is_not, map(_CLIENT_ID, rows), repeat(None))
    return list(compress(map(_KEY_OF, rows), keyed)) == held


def keys_agree(walks: Sequence[Sliced]) -> bool:
    """Whether the key rows agree with the events of every slice: then they agree over the
    whole chain, the slices' seqs being the chain's cut in runs — a key row matching its
    event in its slice bears that event's seq, so no key row is left over or counted twice."""
    return all(sliced.keys_agree for sliced in walks)


def joined(walks: Sequence[Sliced]) -> Walked | None:
    """The walk of a chain from the walks of its slices, in order: None where one of them
    was not vouched for or a slice does not begin where the one before it ended."""
    first = walks[0].walked
    if first is None:
        return None
    walk = Walk(first.walk.tenant, first.walk.checked, first.walk.head_seq, first.walk.head_hash)
    walk.anchors, walk.pruned = first.walk.anchors, first.walk.pruned
    claim = first.purge_claim
    for sliced in walks[1:]:
        if sliced.walked is None:
            return None
        if (walk.head_seq, walk.head_hash) != (sliced.slice.after, sliced.start_hash):
            return None
        part = sliced.walked.walk
        walk.checked += part.checked
        walk.anchors += part.anchors
        walk.pruned += part.pruned
        walk.head_seq, walk.head_hash = part.head_seq, part.head_hash
        claim = sliced.walked.purge_claim or claim
    return Walked(walk, claim)


def walk_apart(store: Store, url: str, parts: Sequence[Slice], count: int) -> Iterator[Sliced]:
    """The slices walked in order, by this process and ``count - 1`` others: each slice in
    turn goes to a process while they have fewer than two a process under way, and this one
    walks the next itself while the walk due next is not back. Walks done ahead wait in
    memory, at most :data:`AHEAD` of them."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding a pool
    done: dict[int, Sliced | Future[Sliced]] = {}
    given = due = 0
    with ProcessPoolExecutor(count - 1, mp_context=context) as pool:
        while due < len(parts):
            away = sum(isinstance(w, Future) and not w.done() for w in done.values())
            if given < len(parts) and given - due < AHEAD and away < 2 * (count - 1):
                done[given] = pool.submit(_walk_in_worker, url, parts[given])
                given += 1
                continue
            head = done[due]
            if isinstance(head, Future) and not head.done() and given - due < AHEAD:
                if given < len(parts):
                    done[given] = walk_slice(store, parts[given])
                    given += 1
                    continue
            walk = done.pop(due)
            yield walk.result() if isinstance(walk, Future) else walk
            due += 1


AHEAD = 1000
"""Slices walked ahead of the one due next that :func:`walk_apart` keeps waiting at most."""


_opened: dict[str, Store] = {}
"""A worker process's store, opened at its first slice and closed when it exits."""


def _walk_in_worker(url: str, part: Slice) -> Sliced:
    store = _opened.get(url)
    if store is None:
        from kansa.store import open_store

        store = _opened[url] = open_store(url)
        multiprocessing.util.Finalize(None, store.close, exitpriority=10)
    return walk_slice(store, part)
