"""What the client has done since it was made, and what waits in its spool."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stats:
    """A snapshot. Counts are of events, for this Client object (a new one starts at 0),
    except ``pending`` and ``rejected_total``, which are the spool's."""

    published: int
    """Events given to ``publish`` (and so committed to the spool)."""
    sent: int
    """Events kansa stored for the first time on our request (``accepted`` in receipts)."""
    duplicates: int
    """Events kansa already had — resent after a lost reply or by a restarted client; kansa
    answered with the original receipt and stored nothing."""
    rejected: int
    """Events kansa refused with a 4xx, moved to the spool's rejected table."""
    resent: int
    """Events sent again after an attempt whose outcome was unknown or failed (counted once
    per extra attempt)."""
    retries: int
    """Requests that failed in a way worth retrying (network, 429, 5xx) and were retried."""
    pending: int
    """Events in the spool not yet acknowledged."""
    rejected_total: int
    """Events in the spool's rejected table, from this client or an earlier one."""


class Counters:
    """The running counts behind :class:`Stats`; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.published = self.sent = self.duplicates = 0
        self.rejected = self.resent = self.retries = 0

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def snapshot(self, pending: int, rejected_total: int) -> Stats:
        with self._lock:
            return Stats(
                published=self.published,
                sent=self.sent,
                duplicates=self.duplicates,
                rejected=self.rejected,
                resent=self.resent,
                retries=self.retries,
                pending=pending,
                rejected_total=rejected_total,
            )
