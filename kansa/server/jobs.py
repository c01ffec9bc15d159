"""The work ``kansa serve`` does on its own: sign checkpoints and purge expired events.

One thread, ``kansa-jobs``, wakes every ``tick`` seconds (and once at start). Each time it
signs the head of every tenant whose checkpoint is due (``KANSA_CHECKPOINT_EVERY_EVENTS`` /
``KANSA_CHECKPOINT_EVERY_MINUTES``) — the head its own writer committed, as written, else
after walking the unsigned events (see kansa.integrity.checkpoints); once a day, at
``KANSA_PURGE_AT`` (UTC), it purges.
Several processes on one database may run it at once: signing the same head twice keeps one
checkpoint, and a purge locks the tenants it purges.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta

from kansa import retention
from kansa.errors import ConfigError
from kansa.integrity.checkpoints import is_due, sign_heads
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
            except Exception:  # noqa: BLE001 - a failed round is logged; the next one runs
                log.exception("background job failed")
            if self._stop.wait(self.tick):
                return

    def run_due(self, now: datetime) -> None:
        """Do whatever is due at ``now``."""
        self.sign_due(now)
        if self.next_purge is not None and now >= self.next_purge:
            self.next_purge = next_run(self.runtime.settings.purge_at, now)
            self.purge(now)

    def sign_due(self, now: datetime) -> int:
        settings = self.runtime.settings
        try:
            signer = self.runtime.signer()
        except ConfigError as exc:
            if not self._warned:
                log.warning("checkpoints are not signed: %s", exc)
                self._warned = True
            return 0
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
        return len(signed.checkpoints)

    def purge(self, now: datetime) -> None:
        try:
            key = self.runtime.signer().public_key
        except ConfigError:
            key = None
        plans = retention.purge(self.runtime.store, self.runtime.catalog, now=now, key=key)
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
