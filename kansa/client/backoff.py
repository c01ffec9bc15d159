"""How long to wait before trying again: exponential backoff with full jitter, and the
server's own ``Retry-After`` when it gives one (429, 503)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 3600.0


class Backoff:
    """Attempt n waits a random time in [0, min(cap, base * 2**n)]: full jitter, so clients
    that failed together do not come back together. ``reset()`` after a success."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base, self.cap = base, cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next attempt. A server's Retry-After wins, even above the cap
        (up to an hour, against a nonsensical one)."""
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 62))
        self.failures += 1
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.failures = 0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent or
    unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
