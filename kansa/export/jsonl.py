"""The JSON Lines export: a tenant's chain, exactly as stored, for machines and auditors.

Each line is the stored ``body`` of one event — the canonical hashed envelope
``{"event":{…},"prev_hash":"<hex>","seq":<n>}`` (sorted keys, no spaces, UTF-8) — followed by
``\\n``. So ``sha256(line without its newline)`` is the event's hash, each line's
``prev_hash`` is the hash of the line before, and ``seq`` rises by one from line to line: the
file is a contiguous run of the tenant's chain, from the first to the last seq of the events
that occurred in the period. An event stored in that run that occurred outside the period (a
late arrival) is in the file too, or the run would have a gap; so is every event type,
whatever the layout shows. The CSV's formula neutralisation does not apply: values are exact.
An event pruned by the retention purge or an erasure is a line of its commitment instead (see
:mod:`kansa.integrity.files`): its content is gone, its link still proved.

Checking the first line's ``prev_hash`` against the event before the run, and the run's head
against a signed checkpoint, is the verifier's job (see docs/integrity.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from kansa.integrity.chain import StoredLink
from kansa.integrity.files import pruned_line


class ChainReader(Protocol):
    def chain(self, tenant_id: str, after_seq: int = 0) -> Iterator[StoredLink]: ...


def jsonl_lines(store: ChainReader, tenant: str, first: int, last: int) -> Iterator[bytes]:
    """The lines of seqs ``first`` to ``last`` of ``tenant``'s chain, each its stored bytes
    and ``\\n``. Stops reading at ``last`` (the store's cursor is closed)."""
    if last < first:
        return
    links = store.chain(tenant, after_seq=first - 1)
    try:
        for link in links:
            if link.seq > last:
                break
            yield _line(tenant, link) + b"\n"
            if link.seq == last:
                break
    finally:
        close = getattr(links, "close", None)
        if close is not None:
            close()


def _line(tenant: str, link: StoredLink) -> bytes:
    """The stored bytes; for a pruned event, its line of commitment instead."""
    if link.pruned is None:
        return link.body
    return pruned_line(link.seq, link.prev_hash, tenant, link.pruned, link.commitment or b"")
