"""One append's events chained onto their tenants' heads, as every engine stores them.

An engine reads (and locks) the heads and finds the client ids already stored; :class:`Batch`
decides the rest: which events are stored again under an id already seen (not at all: they get
the original receipt), the seq and hash of every other one, the rows to insert, and the heads
that moved. The engine then inserts the rows its own way and moves the heads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from kansa.events.prepare import PreparedEvent
from kansa.integrity.chain import Chains, Head, StoredLink
from kansa.store.base import Receipt
from kansa.store.rows import Row, event_row, key_row


class Batch:
    """The receipts in input order, the rows to store, and the heads that moved, for events
    chained from ``heads`` where ``known`` holds the receipts of client ids already stored."""

    def __init__(self, heads: Mapping[str, Head], known: Mapping[tuple[str, str], Receipt]) -> None:
        self.chains = Chains(heads)
        self.known = dict(known)
        self.receipts: list[Receipt] = []
        self._keyed: list[tuple[PreparedEvent, StoredLink]] = []

    def rows(self, events: Sequence[PreparedEvent]) -> Iterator[Row]:
        """The ``events`` rows of the events stored now, made as they are taken."""
        for event in events:
            key = (event.tenant_id, event.client_id or "")
            if event.client_id is not None and key in self.known:
                self.receipts.append(self.known[key])
                continue
            stored = self.chains.extend(event.tenant_id, event.core)
            made = (event.id, event.client_id, event.tenant_id, stored.seq, stored.hash)
            self.receipts.append(Receipt(*made))
            if event.client_id is not None:
                self.known[key] = Receipt(*made, duplicate=True)
                self._keyed.append((event, stored))
            yield event_row(event, stored)

    def keys(self) -> list[Row]:
        """The ``event_keys`` rows of the events stored with a client id (once :meth:`rows`
        has been taken)."""
        return [key_row(event, stored) for event, stored in self._keyed]

    @property
    def moved(self) -> dict[str, Head]:
        """Each tenant whose chain grew, with its new head."""
        return self.chains.moved
