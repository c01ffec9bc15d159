"""Delivery: claim cursors, read the stretch each has waiting, sign it, send it, and move the
cursor only once the receiver accepted. Runs as a thread in ``kansa serve`` (``KANSA_DELIVER``)
or on its own as ``kansa deliver``; any number of processes on one PostgreSQL share the work,
each cursor leased by one at a time (see :mod:`kansa.store.streams`).

Exactly which stretch a delivery carries is fixed before it is first sent (the cursor's
``pending_last``), so every retry — after a failure, or by another process after this one died
— sends the same stretch under the same id. A destination that fails
:data:`~kansa.streaming.retry.DEGRADED_AFTER` times in a row is degraded for that tenant, and
kansa records that (``stream.degraded``) in the tenant's own log, and its recovery
(``stream.recovered``); its cursor waits meanwhile, nothing is skipped.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kansa.catalog import Catalog
from kansa.errors import KansaError
from kansa.events.own import own_event
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.streaming import retry, stretch
from kansa.streaming.batches import Batch
from kansa.streaming.cursors import Cursor
from kansa.streaming.destinations import Destination
from kansa.streaming.sealing import Sealer
from kansa.streaming.senders import DeliveryFailed, Sender, sender_for
from kansa.timeutil import utcnow

log = logging.getLogger("kansa.deliver")

SYSTEM_ACTOR = {"id": "kansa", "name": "kansa", "type": "system"}
CLAIM = 16
"""Cursors one worker claims at a time."""
IDLE_SECONDS = 0.5


@dataclass
class Round:
    """What one round of delivery did."""

    batches: int = 0
    events: int = 0
    failures: int = 0
    failed: list[str] = field(default_factory=list)


class Deliverer:
    """Delivers for one process; :meth:`run_once` is one round, :meth:`start` a thread."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        signer: Signer,
        *,
        clock: Callable[[], datetime] = utcnow,
        draw: Callable[[], float] = random.random,
        owner: str | None = None,
        lease: float = retry.LEASE_SECONDS,
        on_round: Callable[[Round], None] | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.signer = signer
        self.sealer = Sealer(signer)
        self.clock = clock
        self.draw = draw
        self.owner = owner or f"deliver-{secrets.token_hex(6)}"
        self.lease = lease
        self.on_round = on_round
        self._senders: dict[str, Sender] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="kansa-deliver", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        for sender in self._senders.values():
            sender.close()
        self._senders.clear()

    def run_until_stopped(self) -> None:
        """Deliver on this thread until :meth:`request_stop`."""
        self._run()

    def request_stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # noqa: BLE001 - a failed round is logged; the next runs
                log.exception("delivery round failed")
                done = Round()
            if self.on_round is not None:
                self.on_round(done)
            if not done.batches and not done.failures and self._stop.wait(IDLE_SECONDS):
                return

    def run_once(self) -> Round:
        """Claim the cursors that are due and deliver one stretch for each."""
        now = self.clock()
        until = now + timedelta(seconds=self.lease)
        done = Round()
        for cursor in self.store.claim_cursors(self.owner, now, until, CLAIM):
            destination = self.store.get_destination(cursor.destination)
            if destination is None:
                continue
            self._deliver(destination, cursor, done)
        return done

    # -- one delivery ------------------------------------------------------------------

    def _deliver(self, destination: Destination, cursor: Cursor, done: Round) -> None:
        try:
            batch = self._batch(destination, cursor)
            if batch is None:
                return
            if batch.links:
                self._sender(destination).send(batch)
        except (DeliveryFailed, KansaError) as exc:
            self._failed(destination, cursor, str(exc), done)
            return
        except Exception as exc:  # noqa: BLE001 - one receiver's surprise fails its delivery only
            log.exception("delivery to %s failed unexpectedly", destination.id)
            self._failed(destination, cursor, f"{type(exc).__name__}: {exc}", done)
            return
        if self.store.mark_delivered(cursor, self.owner, batch.last_seq, self.clock()):
            done.batches += 1
            done.events += len(batch.links)
            if cursor.degraded:
                self._record(destination, cursor, "stream.recovered", batch.last_seq)

    def _batch(self, destination: Destination, cursor: Cursor) -> Batch | None:
        last = cursor.pending_last or min(
            cursor.head_seq, cursor.delivered_seq + destination.batch_size
        )
        if cursor.pending_last is None and not self.store.set_pending(cursor, self.owner, last):
            return None  # the lease was lost: another worker has the cursor now
        return stretch.build(
            self.store,
            self.signer,
            destination=destination.id,
            tenant=cursor.tenant,
            after=cursor.delivered_seq,
            last=last,
            filter=destination.filter,
            now=self.clock(),
        )

    def _sender(self, destination: Destination) -> Sender:
        sender = self._senders.get(destination.id)
        if sender is None:
            secret = None
            if destination.sealed is not None:
                secret = self.sealer.open(destination.sealed, destination.id)
            sender = self._senders[destination.id] = sender_for(destination, secret)
        return sender

    def _failed(self, destination: Destination, cursor: Cursor, error: str, done: Round) -> None:
        failures = cursor.failures + 1
        degraded = cursor.degraded or retry.degrades(failures)
        retry_at = retry.next_attempt(self.clock(), failures, self.draw())
        done.failures += 1
        done.failed.append(f"{destination.id} {cursor.tenant}: {error}")
        log.warning(
            "delivery to %s for %s failed (%d in a row): %s",
            destination.id,
            cursor.tenant,
            failures,
            error,
            extra={"fields": {"destination": destination.id, "tenant": cursor.tenant}},
        )
        stale = self._senders.pop(destination.id, None)
        if stale is not None:
            stale.close()  # a fresh connection for the retry
        marked = self.store.mark_failed(
            cursor, self.owner, degraded=degraded, retry_at=retry_at, error=error
        )
        if marked and degraded and not cursor.degraded:
            self._record(destination, cursor, "stream.degraded", cursor.delivered_seq, error)

    def _record(
        self,
        destination: Destination,
        cursor: Cursor,
        action: str,
        delivered: int,
        error: str | None = None,
    ) -> None:
        params = {
            "destination": destination.id,
            "name": destination.name,
            "delivered_seq": delivered,
        }
        event = own_event(
            self.catalog,
            cursor.tenant,
            action,
            SYSTEM_ACTOR,
            params,
            result="failure" if error else "success",
            details={"error": error} if error else None,
        )
        self.store.append([event])
