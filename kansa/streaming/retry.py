"""When a failed delivery is tried again, and when its destination counts as degraded.
No I/O here: the random draw (jitter) is passed in."""

from __future__ import annotations

from datetime import datetime, timedelta

BASE_SECONDS = 1.0
MAX_SECONDS = 300.0
DEGRADED_AFTER = 5
"""Failures in a row after which a destination is degraded for a tenant (and that is
recorded in the tenant's log); the first delivery accepted after it recovers it."""
LEASE_SECONDS = 30.0
"""How long a worker holds a claimed cursor (``KANSA_DELIVERY_LEASE_SECONDS``); a worker
that dies lets it go after this."""


def backoff(failures: int, draw: float) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: exponential, capped, with
    "full jitter" — ``draw`` (0…1) picks a point between half and all of the step."""
    step = min(MAX_SECONDS, BASE_SECONDS * 2.0 ** max(0, failures - 1))
    return step * (0.5 + draw / 2)


def next_attempt(now: datetime, failures: int, draw: float) -> datetime:
    return now + timedelta(seconds=backoff(failures, draw))


def degrades(failures: int) -> bool:
    """Whether the ``failures``-th failure in a row marks the destination degraded."""
    return failures == DEGRADED_AFTER
