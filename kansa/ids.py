"""kansa's own event ids: 26 characters, time-sortable, unique.

48 bits of milliseconds since the epoch and 80 random bits, in Crockford's base32 (the ULID
layout). Ids made by one process in the same millisecond keep increasing, so sorting by id
is sorting by arrival.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_MAX = (1 << 80) - 1


class IdFactory:
    """Makes monotonic ids; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, now_ms: int | None = None) -> str:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._lock:
            if ms <= self._last_ms:
                ms = self._last_ms
                random = self._last_random + 1
                if random > _RANDOM_MAX:
                    ms, random = ms + 1, int.from_bytes(os.urandom(10), "big")
            else:
                random = int.from_bytes(os.urandom(10), "big")
            self._last_ms, self._last_random = ms, random
        return _encode(ms, random)


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
"""Every two-character string, indexed by the 10 bits it encodes."""


_LOW_40 = (1 << 40) - 1


def _encode(ms: int, random: int) -> str:
    """``ms`` and ``random`` as 130 bits (the top two always zero), 26 characters, ten bits at
    a time. (The random part in two halves of 40 bits: small integers, quick to shift.)"""
    pairs = _PAIRS
    high, low = random >> 40, random & _LOW_40
    return "".join(
        (
            pairs[(ms >> 40) & 1023],
            pairs[(ms >> 30) & 1023],
            pairs[(ms >> 20) & 1023],
            pairs[(ms >> 10) & 1023],
            pairs[ms & 1023],
            pairs[high >> 30],
            pairs[(high >> 20) & 1023],
            pairs[(high >> 10) & 1023],
            pairs[high & 1023],
            pairs[low >> 30],
            pairs[(low >> 20) & 1023],
            pairs[(low >> 10) & 1023],
            pairs[low & 1023],
        )
    )


def timestamp_ms(event_id: str) -> int:
    """The millisecond an id was made in."""
    value = 0
    for char in event_id[:10]:
        value = value * 32 + _ALPHABET.index(char)
    return value


new_id = IdFactory().new
