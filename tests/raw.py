"""Direct SQL on a test database, as an attacker with file or database access would run it.
(Product code never does this: storage is the only layer that writes SQL.)"""

from __future__ import annotations

import sqlite3
from typing import Any

from kansa.store.sqlite import path_of


def execute(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement with ``?`` placeholders on either engine; return any rows."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(path_of(url), isolation_level=None)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        cursor = pg.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []
