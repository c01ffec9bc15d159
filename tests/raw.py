"""Direct SQL on a test database, as an attacker with file or database access would run it.
(Product code never does this: storage is the only layer that writes SQL.)

``events`` refuses UPDATE and DELETE through triggers (and ``checkpoints`` too); an attacker
who owns the file or the database can take them out of the way first. ``bypass_triggers=True``
does exactly that, around the one statement: on SQLite it drops every trigger and makes them
again in the same transaction; on PostgreSQL it sets ``session_replication_role = replica``
(a superuser's switch that stops user triggers) for the transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from kansa.dburl import path_of


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
