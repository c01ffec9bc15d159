"""Destinations managed, the one way the API and the CLI both use: made (the secret sealed),
listed, paused, resumed, removed, a cursor moved back — each within what the asker may touch.

``owner`` is the tenant the asker is bound to, or None for the operator (a key bound to no
tenant, or the CLI on the database): a tenant's key sees and changes its tenant's
destinations only, and never the operator's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kansa.errors import Forbidden, InvalidInput, NotFound, Problem
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.streaming.cursors import Cursor
from kansa.streaming.destinations import Destination, Spec, new_id
from kansa.streaming.sealing import Sealer
from kansa.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class Made:
    destination: Destination
    secret: str | None
    """The secret kansa made for it (a webhook's), shown this once; None when given."""


def add(
    store: Store, signer: Signer, spec: Spec, tenant: str | None, *, secret_given: bool
) -> Made:
    """Keep the destination ``spec`` asks for, of ``tenant`` (None: the operator's)."""
    if tenant is not None and store.get_tenant(tenant) is None:
        raise NotFound(f"no tenant {tenant!r}")
    destination_id = new_id()
    sealed = Sealer(signer).seal(spec.secret, destination_id) if spec.secret else None
    made = store.create_destination(
        Destination(
            id=destination_id,
            tenant=tenant,
            name=spec.name,
            kind=spec.kind,
            config=spec.config,
            sealed=sealed,
            filter=spec.filter,
            start=spec.start,
            paused=False,
            created_at=utcnow(),
        )
    )
    return Made(made, None if secret_given else spec.secret)


def find(store: Store, destination_id: str, owner: str | None) -> Destination:
    """The destination, if ``owner`` may see it (else NotFound, as for none at all)."""
    found = store.get_destination(destination_id)
    if found is None or (owner is not None and found.tenant != owner):
        raise NotFound(f"no destination {destination_id!r}")
    return found


def listed(store: Store, owner: str | None) -> list[Destination]:
    return store.list_destinations(owner)


def status(
    store: Store, destination: Destination, owner: str | None, now: datetime
) -> dict[str, Any]:
    """The destination as shown, with its cursors (those of ``owner``'s tenant) and lag."""
    cursors = store.cursors(destination.id, owner)
    return {
        **destination.as_dict(),
        "cursors": [c.as_dict(now) for c in cursors],
        "lag_events": max((c.lag_events for c in cursors), default=0),
        "lag_seconds": round(max((c.lag_seconds(now) for c in cursors), default=0.0), 3),
        "degraded": any(c.degraded for c in cursors),
    }


def pause(store: Store, destination_id: str, owner: str | None, paused: bool) -> Destination:
    find(store, destination_id, owner)
    return store.set_destination_paused(destination_id, paused)


def remove(store: Store, destination_id: str, owner: str | None) -> None:
    find(store, destination_id, owner)
    store.delete_destination(destination_id)


def rewind(store: Store, destination_id: str, owner: str | None, tenant: str, seq: int) -> Cursor:
    """Move the destination's cursor for ``tenant`` back to ``seq`` (deliver what follows
    again): a backfill. ``seq`` 0 starts over from the chain's start."""
    destination = find(store, destination_id, owner)
    if owner is not None and tenant != owner:
        raise Forbidden(f"a key of tenant {owner!r} moves only its own cursors")
    record = store.get_tenant(tenant)
    if record is None:
        raise NotFound(f"no tenant {tenant!r}")
    low = record.chain_start_seq - 1
    if not low <= seq <= record.last_seq:
        raise InvalidInput(
            [Problem("seq", f"must lie from {low} to the tenant's head {record.last_seq}")]
        )
    store.rewind_cursor(destination.id, tenant, seq)
    return store.cursors(destination.id, tenant)[0]
