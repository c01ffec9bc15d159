"""The writer: one thread that owns appends, committing queued requests together.

Requests that arrive while a transaction is committing wait in a queue; the writer takes all
of them (up to ``max_events``) into the next transaction — group commit — so the cost of a
durable commit is shared. Each request's future is resolved only after its commit. If a
shared transaction fails, each request is retried alone so one bad request fails alone.
A request made while the writer is not running (before ``start``, after ``close``) is refused
at once rather than left waiting for a thread that will never take it.

:class:`~kansa.server.writer_process.ProcessWriter` (what ``kansa serve`` runs) groups the
requests here too, and sends them to a child process of its own, which commits what it was
sent while it committed the last, together.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from kansa.errors import StoreError
from kansa.events.prepare import PreparedEvent
from kansa.server.metrics import Metrics
from kansa.store import Receipt, Store

Queued = tuple[Sequence[PreparedEvent], "Future[list[Receipt]]"]
"""A request waiting for its commit: its events, and the future its receipts are set on."""


class Writer:
    """Appends events through one thread with group commit."""

    def __init__(
        self, store: Store, *, max_events: int = 5000, metrics: Metrics | None = None
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._max = max_events
        self._queue: queue.SimpleQueue[Queued | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kansa-writer", daemon=True)
        self._started = False
        self._running = threading.Lock()
        """Held while ``_started`` changes, so no request slips in behind the stop signal."""
        self._heads: dict[str, tuple[int, str]] = {}
        self._heads_lock = threading.Lock()
        self.commits = 0

    def start(self) -> None:
        with self._running:
            if not self._started:
                self._started = True
                self._thread.start()

    def close(self) -> None:
        with self._running:
            if not self._started:
                return
            self._started = False
            self._queue.put(None)
        self._thread.join()

    def submit(self, events: Sequence[PreparedEvent]) -> Future[list[Receipt]]:
        """The receipts of ``events``, once committed; StoreError at once when the writer is
        not running."""
        future: Future[list[Receipt]] = Future()
        with self._running:
            if not self._started:
                raise StoreError("the writer is not running: no event can be stored")
            if events:
                if self._metrics is not None:
                    self._metrics.queue_depth.inc()
                self._enqueue((events, future))
            else:
                future.set_result([])
        return future

    def _enqueue(self, item: Queued) -> None:
        """Hand a request to the thread (a subclass may send it on itself)."""
        self._queue.put(item)

    def written_heads(self) -> dict[str, tuple[int, str]]:
        """Per tenant, the (seq, hash) of the newest event this writer committed."""
        with self._heads_lock:
            return dict(self._heads)

    def _committed(self, receipts: Sequence[Receipt]) -> None:
        self.commits += 1
        if self._metrics is not None:
            self._metrics.commit_events.observe(len(receipts))
        with self._heads_lock:
            for receipt in receipts:
                if receipt.duplicate:
                    continue
                known = self._heads.get(receipt.tenant)
                if known is None or receipt.seq > known[0]:
                    self._heads[receipt.tenant] = (receipt.seq, receipt.hash)

    async def append(self, events: Sequence[PreparedEvent]) -> list[Receipt]:
        return await asyncio.wrap_future(self.submit(events))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            count = len(item[0])
            stop = False
            while count < self._max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
                count += len(more[0])
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[Queued]) -> None:
        """Commit ``group`` and answer its requests; a subclass may commit elsewhere."""
        outcomes, shared = commit_group(self._store, [events for events, _ in group])
        self._resolve(group, outcomes, shared)

    def _resolve(self, group: Sequence[Queued], outcomes: Sequence[Outcome], shared: bool) -> None:
        """Answer each request of ``group`` with its outcome; ``shared``: they were committed
        together, as one commit."""
        if self._metrics is not None:
            self._metrics.queue_depth.dec(len(group))
        if shared:
            self._committed(
                [r for outcome in outcomes if isinstance(outcome, list) for r in outcome]
            )
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
                continue
            if not shared:
                self._committed(outcome)
            future.set_result(outcome)


Outcome = list[Receipt] | BaseException
"""What became of one request: its receipts once committed, or why it was not."""


def commit_group(
    store: Store, requests: Sequence[Sequence[PreparedEvent]]
) -> tuple[list[Outcome], bool]:
    """Append ``requests`` in one transaction; if that fails (or there is one request),
    each in a transaction of its own, so one bad request fails alone. The outcome of each
    request in order, and whether they were committed together."""
    if len(requests) > 1:
        everything = [event for events in requests for event in events]
        try:
            receipts = store.append(everything)
        except Exception:  # noqa: BLE001 - each request is retried alone below
            pass
        else:
            outcomes: list[Outcome] = []
            start = 0
            for events in requests:
                outcomes.append(receipts[start : start + len(events)])
                start += len(events)
            return outcomes, True
    alone: list[Outcome] = []
    for events in requests:
        try:
            alone.append(store.append(events))
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request
            alone.append(exc)
    return alone, False
