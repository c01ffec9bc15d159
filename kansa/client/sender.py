"""The sender: one background thread that moves events from the spool to kansa.

It sends the oldest events in batches — as soon as ``batch_size`` wait, or when the oldest
has waited ``max_latency`` seconds, or at once while someone flushes — and removes them from
the spool only when a receipt covers them. A batch worth retrying (network error, 429, 5xx)
stays where it is, at the head of the spool, and goes again after a backoff. A batch kansa
refuses (4xx) is sent again one event at a time, so that only the events that are themselves
refused move to the rejected table and the rest are stored; a 401 refuses the key, not an
event, so the whole batch moves at once.

No event can hold up the others for ever. A batch the server answers with an error of its
own (500 and its like — not 502, 503, 504 or 429, which say it is away or busy) on its
:data:`SUSPECT_AFTER`-th try is sent one event at a time too, and an event that alone still
gets such an answer on its :data:`SUSPECT_AFTER`-th try is set aside as rejected, with that
status, and logged. The spool drains behind it.
"""

from __future__ import annotations

import logging
import threading
import time

from kansa.client.backoff import Backoff
from kansa.client.spool import Spool, Spooled
from kansa.client.stats import Counters
from kansa.client.transport import Accepted, Refused, Retry, Transport

log = logging.getLogger("kansa.client")

SUSPECT_AFTER = 5
"""Tries answered with a server error (500) after which a batch is split, and a lone event is
set aside as rejected."""


class Sender:
    def __init__(
        self,
        spool: Spool,
        transport: Transport,
        counters: Counters,
        backoff: Backoff,
        *,
        batch_size: int,
        max_latency: float,
    ) -> None:
        self._spool, self._transport, self._counters = spool, transport, counters
        self._backoff = backoff
        self._batch_size, self._max_latency = batch_size, max_latency
        self._cond = threading.Condition()
        self._stopping = False
        self._flushers = 0
        self._thread = threading.Thread(target=self._run, name="kansa-client-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """New events are in the spool."""
        with self._cond:
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Send what waits without waiting for a full batch; True once the spool is empty,
        False if it is not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushers += 1
            self._cond.notify_all()
            try:
                while self._spool.pending > 0:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._thread.is_alive():
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flushers -= 1

    def stop(self, timeout: float) -> bool:
        """Stop after the request in flight, if any; True if the thread ended in time."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while self._wait_until_due():
                try:
                    self._send(self._spool.take(self._batch_size))
                except Exception:
                    log.exception("kansa client: sending failed; trying again")
                    self._pause(self._backoff.next_delay())
        finally:
            self._transport.close()
            self._spool.close()
            with self._cond:
                self._cond.notify_all()

    def _wait_until_due(self) -> bool:
        """Block until a batch is due; False when stopping."""
        with self._cond:
            while not self._stopping:
                pending = self._spool.pending
                if pending and (pending >= self._batch_size or self._flushers):
                    return True
                if not pending:
                    self._cond.wait()
                    continue
                oldest = self._spool.oldest()
                due = 0.0 if oldest is None else oldest + self._max_latency - time.time()
                if due <= 0:
                    return True
                self._cond.wait(min(due, self._max_latency))
            return False

    def _send(self, batch: list[Spooled]) -> None:
        if not batch:
            return
        self._counters.add(resent=sum(1 for e in batch if e.attempts))
        outcome = self._post(batch)
        if len(batch) > 1 and (_refused_event(outcome) or _suspect(outcome, batch)):
            log.info(
                "kansa client: %s for a batch of %d; sending its events one by one",
                outcome.reason if isinstance(outcome, Retry) else f"HTTP {_status(outcome)}",
                len(batch),
            )
            for event in batch:
                if self._stopping or self._post([event]) is not None:
                    return  # the rest goes again from the spool

    def _post(self, batch: list[Spooled]) -> Retry | Refused | None:
        """Send one request and act on its outcome: None when settled (stored, or a single
        event rejected), else the outcome left to the caller."""
        outcome = self._transport.send([e.id for e in batch], [e.body for e in batch])
        if isinstance(outcome, Accepted):
            self._spool.remove(batch)
            self._counters.add(sent=outcome.accepted, duplicates=outcome.duplicates)
            self._backoff.reset()
            self._settled()
            return None
        if isinstance(outcome, Refused):
            if len(batch) == 1 or outcome.status == 401:
                self._reject(batch, outcome)
                return None
            return outcome
        if len(batch) == 1 and outcome.status is not None and _suspect(outcome, batch):
            self._reject(batch, Refused(outcome.status, f"{outcome.reason}, every try", []))
            return None
        self._retry(outcome)
        return outcome

    def _reject(self, batch: list[Spooled], refused: Refused) -> None:
        self._spool.reject(batch, refused.status, refused.detail, refused.problems)
        self._counters.add(rejected=len(batch))
        log.warning(
            "kansa client: HTTP %d, %d event(s) rejected and kept in the spool's rejected"
            " table: %s; ids %s; problems %s",
            refused.status,
            len(batch),
            refused.detail,
            ", ".join(e.id for e in batch[:10]) + (" ..." if len(batch) > 10 else ""),
            "; ".join(f"{p['path']}: {p['message']}" for p in refused.problems) or "none",
        )
        self._settled()

    def _retry(self, retry: Retry) -> None:
        self._counters.add(retries=1)
        delay = self._backoff.next_delay(retry.retry_after)
        log.warning("kansa client: %s; trying again in %.2fs", retry.reason, delay)
        self._pause(delay)

    def _pause(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._stopping, timeout=seconds)

    def _settled(self) -> None:
        with self._cond:
            self._cond.notify_all()


def _status(outcome: Refused | None) -> int | None:
    return None if outcome is None else outcome.status


def _refused_event(outcome: Retry | Refused | None) -> bool:
    """Refused for what an event holds (any 4xx but 401, which refuses the key)."""
    return isinstance(outcome, Refused) and outcome.status != 401


def _suspect(outcome: Retry | Refused | None, batch: list[Spooled]) -> bool:
    """A server error on a try of this batch's that is the SUSPECT_AFTER-th for each."""
    return (
        isinstance(outcome, Retry)
        and outcome.suspect
        and min(e.attempts for e in batch) + 1 >= SUSPECT_AFTER
    )
