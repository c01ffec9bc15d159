"""The SQL of streaming out: destinations and their cursors, written once for both engines.

A worker claims cursors by leasing them (``lease_owner``, ``lease_until``) in one
``UPDATE … RETURNING`` whose candidate rows PostgreSQL locks with ``FOR UPDATE SKIP LOCKED``,
so several processes on one database never claim the same cursor; every later change of a
cursor names its owner, so a worker whose lease ran out (and was taken over) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from kansa.store.rows import Bound
from kansa.store.schema import DESTINATION_ROW
from kansa.streaming.cursors import Cursor
from kansa.streaming.destinations import Destination, filter_of
from kansa.timeutil import from_micros, to_micros

DESTINATION_COLUMNS = ", ".join(DESTINATION_ROW)
CURSOR_COLUMNS = (
    "c.tenant_id, c.destination_id, c.delivered_seq, c.pending_last, c.failures, c.degraded,"
    " t.last_seq, c.delivered_at, c.next_attempt_at,"
    " (SELECT e.received_at FROM events e"
    "  WHERE e.tenant_id = c.tenant_id AND e.seq = c.delivered_seq + 1),"
    " c.last_error"
)
FOR_UPDATE = {"sqlite": "", "postgresql": " FOR UPDATE OF c SKIP LOCKED"}


def destination_row(destination: Destination) -> tuple[Any, ...]:
    return (
        destination.id,
        destination.tenant,
        destination.name,
        destination.kind,
        orjson.dumps(dict(destination.config)).decode(),
        destination.sealed,
        orjson.dumps(destination.filter.as_dict()).decode(),
        destination.start,
        int(destination.paused),
        to_micros(destination.created_at),
    )


def destination_of(row: Sequence[Any]) -> Destination:
    sealed = row[5]
    return Destination(
        id=row[0],
        tenant=row[1],
        name=row[2],
        kind=row[3],
        config=orjson.loads(row[4]),
        sealed=bytes(sealed) if sealed is not None else None,
        filter=filter_of(orjson.loads(row[6])),
        start=row[7],
        paused=bool(row[8]),
        created_at=from_micros(row[9]),
    )


def cursor_of(row: Sequence[Any]) -> Cursor:
    return Cursor(
        tenant=row[0],
        destination=row[1],
        delivered_seq=int(row[2]),
        pending_last=int(row[3]) if row[3] is not None else None,
        failures=int(row[4]),
        degraded=bool(row[5]),
        head_seq=int(row[6]),
        delivered_at=from_micros(row[7]) if row[7] is not None else None,
        next_attempt_at=from_micros(row[8]) if row[8] else None,
        oldest_waiting_at=from_micros(row[9]) if row[9] is not None else None,
        last_error=row[10],
    )


def create_statements(destination: Destination, mark: str) -> list[Bound]:
    """The destination and a cursor for each tenant it covers as it stands now."""
    marks = ", ".join([mark] * len(DESTINATION_ROW))
    start = "t.last_seq" if destination.start == "now" else "t.chain_start_seq - 1"
    covers = "" if destination.tenant is None else f" WHERE t.id = {mark}"
    return [
        (
            f"INSERT INTO destinations ({DESTINATION_COLUMNS}) VALUES ({marks})",
            destination_row(destination),
        ),
        (
            "INSERT INTO stream_cursors (tenant_id, destination_id, delivered_seq)"
            f" SELECT t.id, {mark}, {start} FROM tenants t{covers}",
            (destination.id,) + ((destination.tenant,) if destination.tenant else ()),
        ),
    ]


MISSING_CURSORS = (
    " FROM destinations d, tenants t"
    " WHERE d.tenant_id IS NULL AND NOT EXISTS (SELECT 1 FROM stream_cursors c"
    "  WHERE c.tenant_id = t.id AND c.destination_id = d.id)"
)
DUE = (
    " FROM stream_cursors c"
    " JOIN tenants t ON t.id = c.tenant_id"
    " JOIN destinations d ON d.id = c.destination_id"
    " WHERE d.paused = 0 AND t.last_seq > c.delivered_seq AND c.next_attempt_at <= {mark}"
    " AND (c.lease_until IS NULL OR c.lease_until < {mark})"
)


def any_missing_cursor_query() -> Bound:
    """Whether a tenant lacks the cursor of an operator's destination (a read, so a round
    with nothing to add writes nothing)."""
    return f"SELECT 1{MISSING_CURSORS} LIMIT 1", ()


def any_due_query(now: datetime, mark: str) -> Bound:
    """Whether any cursor is due (a read, so an idle round takes no write lock)."""
    return f"SELECT 1{DUE.format(mark=mark)} LIMIT 1", (to_micros(now), to_micros(now))


def missing_cursors_statement() -> Bound:
    """A cursor, from the chain's start, for each tenant an operator's destination covers
    that has none yet (a tenant made after the destination)."""
    return (
        "INSERT INTO stream_cursors (tenant_id, destination_id, delivered_seq)"
        f" SELECT t.id, d.id, t.chain_start_seq - 1{MISSING_CURSORS}"
        " ON CONFLICT DO NOTHING",  # another process added it meanwhile
        (),
    )


def claim_statement(
    dialect: str, owner: str, now: datetime, until: datetime, limit: int, mark: str
) -> Bound:
    """Lease up to ``limit`` cursors that have events to deliver and are due."""
    return (
        f"UPDATE stream_cursors SET lease_owner = {mark}, lease_until = {mark}"
        " WHERE (tenant_id, destination_id) IN ("
        f" SELECT c.tenant_id, c.destination_id{DUE.format(mark=mark)}"
        f" ORDER BY c.next_attempt_at LIMIT {mark}{FOR_UPDATE[dialect]})"
        " RETURNING tenant_id, destination_id",
        (owner, to_micros(until), to_micros(now), to_micros(now), limit),
    )


def delivery_floor_query(tenant: str, mark: str) -> Bound:
    """The last seq of ``tenant`` every destination has received: the lowest of its cursors,
    and 0 while an operator's destination has no cursor for it yet (it will start from the
    chain's start); NULL when no destination delivers the tenant."""
    return (
        f"SELECT MIN(c.delivered_seq), EXISTS (SELECT 1 FROM destinations d"
        " WHERE d.tenant_id IS NULL AND NOT EXISTS (SELECT 1 FROM stream_cursors o"
        f"  WHERE o.tenant_id = {mark} AND o.destination_id = d.id))"
        f" FROM stream_cursors c WHERE c.tenant_id = {mark}",
        (tenant, tenant),
    )


def cursors_query(mark: str, destination: str, tenant: str | None = None) -> Bound:
    where = f"c.destination_id = {mark}" + (f" AND c.tenant_id = {mark}" if tenant else "")
    return (
        f"SELECT {CURSOR_COLUMNS} FROM stream_cursors c JOIN tenants t ON t.id = c.tenant_id"
        f" WHERE {where} ORDER BY c.tenant_id",
        (destination, tenant) if tenant else (destination,),
    )


def _owned(mark: str) -> str:
    return f" WHERE tenant_id = {mark} AND destination_id = {mark} AND lease_owner = {mark}"


def pending_statement(cursor: Cursor, owner: str, last: int, mark: str) -> Bound:
    """Fix the stretch on its way (its last seq) before it is sent."""
    return (
        f"UPDATE stream_cursors SET pending_last = {mark}{_owned(mark)} RETURNING tenant_id",
        (last, cursor.tenant, cursor.destination, owner),
    )


def delivered_statement(cursor: Cursor, owner: str, last: int, now: datetime, mark: str) -> Bound:
    """The receiver accepted everything up to ``last``: move the cursor, clear failures and
    the lease."""
    return (
        f"UPDATE stream_cursors SET delivered_seq = {mark}, delivered_at = {mark},"
        " pending_last = NULL, failures = 0, degraded = 0, next_attempt_at = 0,"
        f" last_error = NULL, lease_owner = NULL, lease_until = NULL{_owned(mark)}"
        " RETURNING tenant_id",
        (last, to_micros(now), cursor.tenant, cursor.destination, owner),
    )


def failed_statement(
    cursor: Cursor, owner: str, degraded: bool, retry_at: datetime, error: str, mark: str
) -> Bound:
    """One more failure: try again at ``retry_at``; the cursor does not move."""
    return (
        f"UPDATE stream_cursors SET failures = failures + 1, degraded = {mark},"
        f" next_attempt_at = {mark}, last_error = {mark}, lease_owner = NULL,"
        f" lease_until = NULL{_owned(mark)} RETURNING tenant_id",
        (int(degraded), to_micros(retry_at), error[:500], cursor.tenant, cursor.destination, owner),
    )


def rewind_statement(destination: str, tenant: str, seq: int, mark: str) -> Bound:
    """Move a cursor back (or forward) to ``seq``: what follows is delivered again."""
    return (
        f"UPDATE stream_cursors SET delivered_seq = {mark}, pending_last = NULL,"
        " lease_owner = NULL, lease_until = NULL, next_attempt_at = 0"
        f" WHERE tenant_id = {mark} AND destination_id = {mark} RETURNING tenant_id",
        (seq, tenant, destination),
    )
