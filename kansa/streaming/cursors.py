"""Where a destination stands in one tenant's log: the last seq its receiver accepted, the
stretch on its way (so a retry sends the same stretch under the same id), its failures, and
how far behind it is. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kansa.timeutil import iso_utc


@dataclass(frozen=True, slots=True)
class Cursor:
    tenant: str
    destination: str
    delivered_seq: int
    """The last seq the receiver accepted (everything up to it was delivered)."""
    pending_last: int | None
    """The last seq of the stretch being delivered, fixed until it is accepted."""
    failures: int
    degraded: bool
    head_seq: int = 0
    """The tenant's last seq when the cursor was read."""
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None
    oldest_waiting_at: datetime | None = None
    """When the first event not yet delivered was received (None: nothing waits)."""
    last_error: str | None = None

    @property
    def lag_events(self) -> int:
        return max(0, self.head_seq - self.delivered_seq)

    def lag_seconds(self, now: datetime) -> float:
        if self.oldest_waiting_at is None or not self.lag_events:
            return 0.0
        return max(0.0, (now - self.oldest_waiting_at).total_seconds())

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "delivered_seq": self.delivered_seq,
            "delivered_at": iso_utc(self.delivered_at) if self.delivered_at else None,
            "head_seq": self.head_seq,
            "lag_events": self.lag_events,
            "lag_seconds": round(self.lag_seconds(now), 3),
            "failures": self.failures,
            "degraded": self.degraded,
            "next_attempt_at": iso_utc(self.next_attempt_at) if self.next_attempt_at else None,
            "last_error": self.last_error,
        }
