"""Direct SQL on a test database, as an attacker with file or database access would run it.
(Product code never does this: storage is the only layer that writes SQL.)

``events`` refuses UPDATE and DELETE through triggers (and ``checkpoints`` too); an attacker
who owns the file or the database can take them out of the way first. ``bypass_triggers=True``
does exactly that, around the one statement: on SQLite it drops every trigger and makes them
again in the same transaction; on PostgreSQL it sets ``session_replication_role = replica``
(a superuser's switch that stops user triggers) for the transaction."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from kansa.dburl import path_of
from kansa.integrity.chain import GENESIS, digest, link

if TYPE_CHECKING:
    from kansa.store import Store


def execute(
    url: str, sql: str, *params: Any, bypass_triggers: bool = False
) -> list[tuple[Any, ...]]:
    """Run one statement with ``?`` placeholders on either engine; return any rows."""
    if url.startswith("sqlite"):
        return _sqlite(path_of(url), sql, params, bypass_triggers)
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg, pg.transaction():
        if bypass_triggers:
            pg.execute("SET LOCAL session_replication_role = replica")
        cursor = pg.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def _sqlite(path: str, sql: str, params: tuple[Any, ...], bypass: bool) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if not bypass:
            return conn.execute(sql, params).fetchall()
        conn.execute("BEGIN IMMEDIATE")
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall()
        for name, _ in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        rows = conn.execute(sql, params).fetchall()
        for _, definition in triggers:
            conn.execute(definition)
        conn.execute("COMMIT")
        return rows
    finally:
        conn.close()


def rewrite_from(
    store: Store, store_url: str, tenant: str, seq: int, upto: int | None = None
) -> None:
    """Change the event at ``seq`` (its tenant's name: no column keeps it) and rebuild every
    link after it, its idempotency key (PostgreSQL) and the tenant's head, so that the chain
    alone is consistent again. With ``upto``, stop there: the links up to it are consistent,
    the one after it is not."""
    links = list(store.chain(tenant))
    prev = links[seq - 2].hash if seq > 1 else GENESIS
    for old in links[seq - 1 : upto]:
        core = old.body[len(b'{"event":') : old.body.rindex(b',"prev_hash":')]
        if old.seq == seq:
            core = core.replace(b"iidabashi-company", b"iidabashi-kompany")
        body = link(core, prev, old.seq)
        execute(
            store_url,
            "UPDATE events SET body = ?, hash = ?, prev_hash = ? WHERE tenant_id = ? AND seq = ?",
            body,
            digest(body),
            prev,
            tenant,
            old.seq,
            bypass_triggers=True,
        )
        if not store_url.startswith("sqlite"):  # PostgreSQL keeps each hash in event_keys too
            execute(
                store_url,
                "UPDATE event_keys SET hash = ? WHERE tenant_id = ? AND seq = ?",
                digest(body),
                tenant,
                old.seq,
                bypass_triggers=True,
            )
        prev = digest(body)
    if upto is None:
        execute(store_url, "UPDATE tenants SET last_hash = ? WHERE id = ?", prev, tenant)


def insert_above_head(store: Store, store_url: str, tenant: str) -> str:
    """Insert a row after the tenant's last event, linked to it as kansa would link one (a
    copy of it under a new id), but leave the tenant's recorded head where it was: the row
    an attacker adds behind kansa's back. Returns the new event's id."""
    from kansa.store.schema import EVENT_ROW

    columns = ", ".join(EVENT_ROW)
    ((head,),) = execute(store_url, "SELECT last_seq FROM tenants WHERE id = ?", tenant)
    ((*values,),) = execute(
        store_url, f"SELECT {columns} FROM events WHERE tenant_id = ? AND seq = ?", tenant, head
    )
    row = dict(zip(EVENT_ROW, values, strict=True))
    new_id = str(row["id"])[:-6] + "ZZZZZZ"
    old = bytes(row["body"])
    core = old[len(b'{"event":') : old.rindex(b',"prev_hash":')]
    core = core.replace(str(row["id"]).encode(), new_id.encode())
    body = link(core, str(row["hash"]), head + 1)
    row |= {
        "seq": head + 1,
        "id": new_id,
        "client_id": None,
        "body": body,
        "prev_hash": row["hash"],
        "hash": digest(body),
    }
    marks = ", ".join("?" for _ in EVENT_ROW)
    execute(store_url, f"INSERT INTO events ({columns}) VALUES ({marks})", *row.values())
    return new_id
