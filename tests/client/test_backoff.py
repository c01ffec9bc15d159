"""Backoff: exponential, full jitter, capped; the server's Retry-After wins."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from kansa.client.backoff import Backoff, parse_retry_after


def test_delays_are_jittered_below_an_exponential_ceiling_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(7))
    ceilings = [0.5, 1, 2, 4, 8, 8, 8]
    samples = [[] for _ in ceilings]  # type: list[list[float]]
    for _ in range(300):
        backoff.reset()
        for n in range(len(ceilings)):
            samples[n].append(backoff.next_delay())
    for ceiling, seen in zip(ceilings, samples, strict=True):
        assert 0 <= min(seen) and max(seen) <= ceiling
        assert max(seen) > 0.8 * ceiling and min(seen) < 0.2 * ceiling  # full jitter


def test_retry_after_wins_even_above_the_cap() -> None:
    backoff = Backoff(0.5, 2.0)
    assert backoff.next_delay(retry_after=5) == 5
    assert backoff.next_delay(retry_after=10**9) == 3600


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 21, 1, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after("Sat, 21 Nov 2026 01:00:30 GMT", now) == 30
    assert parse_retry_after("Sat, 21 Nov 2026 00:59:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None


def test_a_backoff_needs_a_positive_base_below_its_cap() -> None:
    with pytest.raises(ValueError):
        Backoff(0, 1)
    with pytest.raises(ValueError):
        Backoff(2, 1)
