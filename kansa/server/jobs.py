"""The work ``kansa serve`` does on its own: sign checkpoints and purge expired events.

One thread, ``kansa-jobs``, wakes every ``tick`` seconds (and once at start). Each time it
signs the head of every tenant whose checkpoint is due (``KANSA_CHECKPOINT_EVERY_EVENTS`` /
``KANSA_CHECKPOINT_EVERY_MINUTES``) — the head its own writer committed, as written, else
after walking the unsigned events (see kansa.integrity.checkpoints); once a day, at
``KANSA_PURGE_AT`` (UTC), it purges.
Every node of a cluster runs it, and one acts: each round of a job runs under the job's lock
in the database (:meth:`kansa.store.Store.exclusive`, a PostgreSQL advisory lock), and a node
that finds it taken skips the round (docs/scale.md). Should two sign at once all the same,
signing the same head twice keeps one checkpoint (the first kept; the second signer reads it
back), and a purge locks the tenants it purges. ``kansa serve --workers`` runs it in one
process only (its own; see docs/operations.md). Each round that did something logs one line
with what it did (``kansa.jobs``, fields ``job``, ``signed``, ``refused``, ``purged`` …), and
counts it in the metrics.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta

from prometheus_client import CollectorRegistry

from kansa import retention
from kansa.errors import ConfigError, StoreError
from kansa.integrity.checkpoints import is_due, sign_heads
from kansa.integrity.signing import Signer
from kansa.server.metrics import JobMetrics
from kansa.server.runtime import Runtime
from kansa.timeutil import utcnow

log = logging.getLogger("kansa.jobs")

TICK_SECONDS = 10.0

MAX_WALK = 20_000
"""Most events one round walks before signing a head this process did not write itself, so
a long unsigned tail (after a restart) is signed in steps rather than in one long stall."""


def next_run(at: str | None, after: datetime) -> datetime | None:
    """The first moment strictly after ``after`` at time of day ``at`` (``HH:MM``, UTC)."""
    if at is None:
        return None
    hours, minutes = (int(part) for part in at.split(":"))
    moment = datetime.combine(after.date(), time(hours, minutes), tzinfo=after.tzinfo)
    return moment if moment > after else moment + timedelta(days=1)


class Jobs:
    """Checkpoints and purges for one running kansa."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        tick: float = TICK_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.runtime = runtime
        self.tick = tick
        self.clock = clock
        self.next_purge = next_run(runtime.settings.purge_at, clock())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False
        self.metrics = runtime.metrics.jobs or JobMetrics(CollectorRegistry())

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="kansa-jobs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop, after the work under way (if any) is done."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            try:
                self.run_due(self.clock())
            except Exception as exc:  # noqa: BLE001 - a failed round is logged; the next runs
                log.exception("background job failed")
                self.metrics.failures.inc()
                if isinstance(exc, StoreError):
                    self.runtime.metrics.store_error(exc)
            if self._stop.wait(self.tick):
                return

    def run_due(self, now: datetime) -> None:
        """Do whatever is due at ``now``."""
        self.sign_due(now)
        if self.next_purge is not None and now >= self.next_purge:
            self.next_purge = next_run(self.runtime.settings.purge_at, now)
            self.purge(now)

    def sign_due(self, now: datetime) -> int:
        """Sign the heads that are due, unless another node is signing; how many were."""
        try:
            signer = self.runtime.signer()
        except ConfigError as exc:
            if not self._warned:
                log.warning("checkpoints are not signed: %s", exc)
                self._warned = True
            return 0
        with self.runtime.store.exclusive("checkpoint") as mine:
            return self._sign_due(now, signer) if mine else 0

    def _sign_due(self, now: datetime, signer: Signer) -> int:
        settings = self.runtime.settings
        store = self.runtime.store
        due = [
            t
            for t in store.list_tenants()
            if is_due(t, now, settings.checkpoint_every_events, settings.checkpoint_every_minutes)
        ]
        signed = sign_heads(
            store, signer, due, now, written=self.runtime.writer.written_heads(), max_walk=MAX_WALK
        )
        for refusal in signed.refused:
            log.error("checkpoint refused: %s", refusal)
        self.metrics.checkpoints.inc(len(signed.checkpoints))
        self.metrics.checkpoints_refused.inc(len(signed.refused))
        if due:
            fields = {
                "job": "checkpoint",
                "due": len(due),
                "signed": len(signed.checkpoints),
                "refused": len(signed.refused),
                "tenants": sorted({c.tenant for c in signed.checkpoints}),
            }
            log.info(
                "checkpoint round: %d signed, %d refused",
                len(signed.checkpoints),
                len(signed.refused),
                extra={"fields": fields},
            )
        return len(signed.checkpoints)

    def purge(self, now: datetime) -> None:
        """Purge what expired, unless another node is purging."""
        with self.runtime.store.exclusive("purge") as mine:
            if mine:
                self._purge(now)

    def _purge(self, now: datetime) -> None:
        try:
            key = self.runtime.signer().public_key
        except ConfigError:
            key = None
        plans = retention.purge(self.runtime.store, self.runtime.catalog, now=now, key=key)
        purged = [p.purged for p in plans if p.purged and not p.refused]
        refused = sum(1 for p in plans if p.refused)
        self.metrics.purges.inc(len(purged))
        self.metrics.purged_events.inc(sum(p.count for p in purged))
        self.metrics.purges_refused.inc(refused)
        fields = {
            "job": "purge",
            "tenants": len(plans),
            "purged_tenants": len(purged),
            "purged_events": sum(p.count for p in purged),
            "refused": refused,
        }
        log.info(
            "purge round: %d events of %d tenants purged, %d refused",
            fields["purged_events"],
            len(purged),
            refused,
            extra={"fields": fields},
        )
        for plan in plans:
            if plan.refused:
                log.error("purge refused: %s", plan.refused)
            elif plan.purged:
                log.info(
                    "purged %d expired events of %s (seq %d-%d)",
                    plan.purged.count,
                    plan.tenant.id,
                    plan.purged.first_seq,
                    plan.purged.last_seq,
                )
