"""Regions: an event type its catalog logs in some regions only (``regions = ["JP"]``) is
refused for a tenant of another region. A tenant without a region, like an event type
without regions, is not bound by them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kansa.catalog import Catalog
from kansa.errors import InvalidInput, Problem
from kansa.events.prepare import PreparedEvent


def region_bound(events: Sequence[PreparedEvent], catalog: Catalog) -> bool:
    """Whether any of ``events`` is of a type logged in some regions only."""
    return any(_regions(e, catalog) for e in events)


def _regions(event: PreparedEvent, catalog: Catalog) -> frozenset[str]:
    event_type = catalog.get(event.product, event.action)
    return event_type.regions if event_type else frozenset()


def check_regions(
    events: Sequence[PreparedEvent],
    catalog: Catalog,
    region_of: Callable[[str], str | None],
    single: bool = False,
) -> None:
    """Refuse, naming each event's path and the regions allowed, every event whose type is
    not logged in its tenant's region. ``region_of`` (a tenant id → its region) is asked
    only for events whose type names regions."""
    regions: dict[str, str | None] = {}
    problems = []
    for index, event in enumerate(events):
        allowed_in = _regions(event, catalog)
        if not allowed_in:
            continue
        if event.tenant_id not in regions:
            regions[event.tenant_id] = region_of(event.tenant_id)
        region = regions[event.tenant_id]
        if region is None or region in allowed_in:
            continue
        allowed = ", ".join(sorted(allowed_in))
        where = "action" if single else f"events[{index}].action"
        message = (
            f"{event.action!r} is logged for tenants in {allowed} only;"
            f" tenant {event.tenant_id!r} is in {region}"
        )
        problems.append(Problem(where, message))
    if problems:
        raise InvalidInput(problems)
