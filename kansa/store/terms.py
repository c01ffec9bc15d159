"""The free-text index in SQL: how each engine stores an event's index terms
(:func:`kansa.events.terms.index_text`), fills them for rows stored before the index existed,
and asks for the rows that may hold a search's free-text terms.

SQLite keeps the terms in an FTS5 table, ``event_terms``, whose rowid is the ``events`` row's,
written by the append in its transaction and emptied by triggers when a row is pruned or
deleted. PostgreSQL keeps them in a ``tsvector`` column of ``events`` (``terms``) under a GIN
index, copied with the row and set to NULL by a prune.

The index is a prefilter. The exact rule (:func:`text_condition`: the term is a substring of
the search text and each of its words starts a word there) is always in the query, so a page
holds the same rows whichever way the engine reads them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from kansa.events.terms import Form, Needle, index_text, tenant_term
from kansa.store.schema import TERMS_TABLE

FILL_BATCH = 5000
"""Rows read and written at a time by the fill of a migration."""

SQLITE_INSERT = (
    f"INSERT OR REPLACE INTO {TERMS_TABLE} (rowid, terms)"
    " SELECT rowid, ? FROM events WHERE tenant_id = ? AND seq = ?"
)
"""The terms of one appended row, its rowid looked up (parameters of :func:`sqlite_rows`).
``OR REPLACE``: a row deleted behind kansa's back (its triggers taken away) may leave terms
under a rowid SQLite gives the next row; they are that row's no longer."""

SQLITE_ROWS_UPTO = 500
"""SQLite: when the index holds this many rows or fewer for a search's terms in its tenant,
the search fetches them by rowid and sorts them (``rows``)."""
SQLITE_SCAN_ABOVE = 5_000
"""SQLite: up to this many, the search reads the window in time order and takes only the
rows the index holds, tested by rowid before the row is read (``filter``); above it, the terms
are common and the window read in time order finds the newest matches soon without the index.
PostgreSQL's planner makes the same choices from its statistics."""

Via = Literal["rows", "filter"] | None
"""How a SQLite search uses the index: its rows only, the window filtered by them, or not."""


def sqlite_choice(tenant: str, needles: Sequence[Needle], held: Callable[[str, int], int]) -> Via:
    """How a SQLite search of ``needles`` in ``tenant`` uses the index, from how many rows it
    holds for them (``held(match, limit)``: :data:`SQLITE_COUNT` run, counting up to
    ``limit``). Words whole first: when they alone are common, the rows of every word they
    start are not gathered (FTS5 gathers them all, however few are asked for)."""
    matched = fts_match(tenant, needles)
    if matched is None:
        return None
    limit = SQLITE_SCAN_ABOVE + 1
    whole = fts_match(tenant, needles, whole=True)
    if whole is not None and whole != matched and held(whole, limit) > SQLITE_SCAN_ABOVE:
        return None
    return sqlite_via(held(matched, limit))


def sqlite_via(held: int) -> Via:
    """How a SQLite search uses the index that holds ``held`` rows (counted up to one more
    than :data:`SQLITE_SCAN_ABOVE`) for its terms in its tenant."""
    if held <= SQLITE_ROWS_UPTO:
        return "rows"
    return "filter" if held <= SQLITE_SCAN_ABOVE else None


_BOUNDARY = "0123456789abcdefghijklmnopqrstuvwxyz"


SQLITE_INSERT_AT = f"INSERT OR REPLACE INTO {TERMS_TABLE} (rowid, terms) VALUES (?, ?)"
"""The terms of one appended row whose rowid is known (parameters of :func:`sqlite_rows_at`)."""


def sqlite_rows_at(rows: Sequence[Sequence[Any]], first: int) -> list[tuple[int, str]]:
    """The parameters of :data:`SQLITE_INSERT_AT` for rows of ``events`` given the rowids
    from ``first`` on, in order."""
    return [(first + n, index_text(row[0], row[-1])) for n, row in enumerate(rows)]


def sqlite_rows(rows: Iterable[Sequence[Any]]) -> list[tuple[str, str, int]]:
    """The parameters of :data:`SQLITE_INSERT` for rows of ``events`` (tenant first, seq
    second, search text last)."""
    return [(index_text(row[0], row[-1]), row[0], row[1]) for row in rows]


def tsvector_bytes(text: str) -> bytes:
    """An index text (terms separated by spaces) in PostgreSQL's binary ``tsvector`` form:
    the number of lexemes, then each NUL-terminated with no positions (the server sorts
    them)."""
    if not text:
        return struct.pack("!i", 0)
    return struct.pack("!i", text.count(" ") + 1) + text.replace(" ", "\0\0\0").encode() + b"\0\0\0"


def _fts(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _lexeme(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _form_query(form: Form, quote: Callable[[str], str], prefix: str, both: str) -> str:
    parts = [quote(word) + prefix for word in form.prefixes] + [quote(p) for p in form.pairs]
    return "(" + both.join(parts) + ")"


def _query(tenant: str, needles: Sequence[Needle], dialect: str, whole: bool = False) -> str | None:
    """The index query of the ``needles`` the index serves, with the tenant's term; None when
    it serves none. ``whole``: each word as a whole term, not as the start of terms."""
    served = [n for n in needles if n.indexed]
    if not served:
        return None
    if dialect == "sqlite":
        quote, prefix, both, either = _fts, "" if whole else "*", " AND ", " OR "
    else:
        quote, prefix, both, either = _lexeme, ":*", " & ", " | "
    # SQLite's index is one for every tenant: each event carries its tenant's term. PostgreSQL
    # reads the tenant from its own column, whose selectivity the planner knows: a tenant
    # term as well would count it twice and misjudge a common word as rare.
    parts = [quote(tenant_term(tenant))] if dialect == "sqlite" else []
    for needle in served:
        forms = [_form_query(form, quote, prefix, both) for form in needle.forms]
        parts.append("(" + either.join(forms) + ")")
    return both.join(parts)


def fts_match(tenant: str, needles: Sequence[Needle], whole: bool = False) -> str | None:
    """SQLite: the FTS5 MATCH expression for ``needles`` in ``tenant``, or None; ``whole``:
    the rows holding each word whole, some of those the expression finds. FTS5 gathers every
    term a prefix starts before it returns a row, however few are asked for; a whole term it
    reads only as far as asked."""
    return _query(tenant, needles, "sqlite", whole)


def tsquery(tenant: str, needles: Sequence[Needle]) -> str | None:
    """PostgreSQL: the ``tsquery`` text for ``needles`` in ``tenant`` (every lexeme quoted;
    cast, not parsed, so nothing is folded or split again), or None."""
    return _query(tenant, needles, "postgresql")


SQLITE_COUNT = (
    f"SELECT count(*) FROM (SELECT rowid FROM {TERMS_TABLE} WHERE {TERMS_TABLE} MATCH ? LIMIT ?)"
)
"""SQLite: how many rows the index holds for a MATCH expression, counted up to a limit (one
more than :data:`SQLITE_SCAN_ABOVE`)."""
SQLITE_ROWS = f"e.rowid IN (SELECT rowid FROM {TERMS_TABLE} WHERE {TERMS_TABLE} MATCH {{mark}})"
"""SQLite: the condition that reads only the rows the index holds for a MATCH expression."""
PG_ROWS = "e.terms @@ CAST({mark} AS tsquery)"
"""PostgreSQL: the condition the planner may read through the GIN index."""


def word_start(word: str, dialect: str) -> tuple[str, str]:
    """An SQL test (with one mark, ``{mark}``) that ``word`` (letters and digits) starts a word
    of the search text, and its parameter."""
    if dialect == "sqlite":
        return "(' ' || e.search_text) GLOB {mark}", f"*[^{_BOUNDARY}]{word}*"
    return "e.search_text ~ {mark}", f"(^|[^{_BOUNDARY}]){word}"


# -- the fill of a migration ----------------------------------------------------------------


def fill_sqlite(
    execute: Callable[..., Any], executemany: Callable[[str, Iterable[Sequence[Any]]], Any]
) -> int:
    """Write the terms of every unpruned row of ``events`` into ``event_terms``, a batch of
    rows at a time, inside the migration's transaction; return how many."""
    done, last = 0, 0
    while True:
        found = execute(
            "SELECT rowid, tenant_id, search_text FROM events WHERE rowid > ?"
            " AND pruned IS NULL ORDER BY rowid LIMIT ?",
            (last, FILL_BATCH),
        ).fetchall()
        if not found:
            return done
        executemany(
            SQLITE_INSERT_AT,
            [(rowid, index_text(tenant, text)) for rowid, tenant, text in found],
        )
        done += len(found)
        last = found[-1][0]


PG_FILL_READ = (
    "SELECT tenant_id, seq, search_text FROM events WHERE (tenant_id, seq) > (%s, %s)"
    " AND pruned IS NULL ORDER BY tenant_id, seq LIMIT %s"
)
PG_FILL_WRITE = (
    "UPDATE events AS e SET terms = array_to_tsvector(string_to_array(u.terms, ' '))"
    " FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS u (tenant_id, seq, terms)"
    " WHERE e.tenant_id = u.tenant_id AND e.seq = u.seq"
)


def fill_postgres(execute: Callable[..., Any]) -> int:
    """Set ``terms`` of every unpruned row of ``events``, a batch at a time, inside the
    migration's transaction, with the UPDATE refusal switched off for it (the migration may
    ALTER ``events``; every other UPDATE stays refused by the trigger once it is back)."""
    execute("ALTER TABLE events DISABLE TRIGGER events_refuse_update")
    done: int = 0
    after: tuple[str, int] = ("", 0)
    while True:
        found = execute(PG_FILL_READ, (*after, FILL_BATCH)).fetchall()
        if not found:
            break
        execute(
            PG_FILL_WRITE,
            (
                [row[0] for row in found],
                [row[1] for row in found],
                [index_text(None, row[2]) for row in found],
            ),
        )
        done += len(found)
        after = (found[-1][0], int(found[-1][1]))
    execute("ALTER TABLE events ENABLE TRIGGER events_refuse_update")
    return done
