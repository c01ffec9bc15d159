"""The size of everything a publisher sends (docs/api.md lists them), and the two measures
they need: how deeply a document nests, and an address in its normal form. Shared by the
event contract (:mod:`kansa.events.prepare`) and its quick look (:mod:`kansa.events.quick`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from ipaddress import ip_address
from typing import Any

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=1)
"""How far ahead of kansa's clock an event may say it happened (clock skew)."""

# The size of every field a publisher sends (docs/api.md lists them). A longer value is a
# 422 naming the field's path, e.g. ``events[3].actor.name``.
MAX_ID = 200
"""Ids: the event's, an actor's or target's, ``app``, ``action``, trace and correlation."""
MAX_NAME = 500
"""Names, logins, e-mail addresses."""
MAX_TEXT = 2000
"""Free text: user agent, error message, one parameter value."""
MAX_CODE = 50
"""Short codes: result, actor and target types."""
MAX_IP = 64
MAX_PARAM_KEY = 100
MAX_PARAMS = 100
"""Parameters per event, and strings in one list-valued parameter."""
MAX_TARGETS = 100
MAX_PARAMS_BYTES = 16 * 1024
"""``params`` as JSON, in all."""
MAX_DETAILS_BYTES = 64 * 1024
"""``details`` as JSON."""
MAX_DEPTH = 32
"""How deeply ``details`` may nest objects and lists."""


def depth(value: Any) -> int:
    """How deeply ``value`` nests objects and lists (without recursion: a hostile document
    may nest far deeper than Python's stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


@lru_cache(maxsize=8192)
def normal_ip(value: str) -> str:
    """An address in its normal form (ValueError when it is none); a publisher's events come
    from few addresses, so each is parsed once."""
    return str(ip_address(value))
