"""kansa's own events: what it records in a tenant's log about that log — views, searches,
exports, sign-ins, purges, legal holds, retention changes. Built here, in one place, and
prepared against the catalog like any published event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kansa.catalog import Catalog
from kansa.events.prepare import PreparedEvent, prepare

OWN_PRODUCT = "kansa"
"""The catalog of kansa's own events: kansa records them itself, and a publisher may not — a
forged purge record would pass for a real one."""


def own_event(
    catalog: Catalog,
    tenant: str,
    action: str,
    actor: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None = None,
    *,
    ip: str | None = None,
    result: str = "success",
    details: Mapping[str, Any] | None = None,
) -> PreparedEvent:
    """The event recording ``action`` in ``tenant``'s log; ``actor`` None for someone
    unknown (an anonymous event). Parameters that are None are left out."""
    event: dict[str, Any] = {
        "tenant": tenant,
        "app": OWN_PRODUCT,
        "action": action,
        "result": result,
        "ip": ip,
        "params": {k: v for k, v in (params or {}).items() if v is not None},
    }
    if details is not None:
        event["details"] = dict(details)
    if actor is None:
        event["anonymous"] = True
    else:
        event["actor"] = dict(actor)
    return prepare([event], catalog)[0]
