"""A :class:`~kansa.events.query.Query` as SQL, for either engine. Keyset pagination on
(sort value, seq): a page is the rows after the cursor, so events arriving meanwhile never
shift or repeat rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from kansa.events.pruned import placeholder
from kansa.events.query import Cursor, Query
from kansa.events.stored import StoredEvent
from kansa.events.terms import Needle, needle
from kansa.store import terms as index
from kansa.timeutil import from_micros, iso_utc, to_micros

_SORT_SQL = {
    "occurred_at": "e.occurred_at",
    "received_at": "e.received_at",
    # when the event's job began: its first state's time (the event's own without a job)
    "started_at": "COALESCE((SELECT s.occurred_at FROM events s WHERE s.tenant_id = e.tenant_id"
    " AND s.correlation_id = e.correlation_id ORDER BY s.seq LIMIT 1), e.occurred_at)",
    "seq": "e.seq",
    "actor": "COALESCE(e.actor_name, e.actor_login, e.actor_id, '')",
    "actor_id": "COALESCE(e.actor_id, '')",
    "actor_login": "COALESCE(e.actor_login, e.actor_id, '')",  # the login shown, else the id
    "actor_name": "COALESCE(e.actor_name, '')",
    "action": "e.action",
    "result": "e.result",
    "level": "(CASE e.level WHEN 'error' THEN 4 WHEN 'warning' THEN 3 WHEN 'important' THEN 2"
    " ELSE 1 END)",
    "category": "e.category",
    "history": "e.history",
    "ip": "COALESCE(e.ip, '')",
    "target": "COALESCE(e.target_name, e.target_id, '')",
    "target_id": "COALESCE(e.target_id, e.target_name, '')",
    "service": "COALESCE(e.service, '')",
}
SELECT_COLUMNS = "e.body, e.hash, e.seq"
PLACEHOLDER_COLUMNS = (
    "e.pruned, e.id, e.tenant_id, e.app, e.product, e.action, e.category, e.history,"
    " e.result, e.level, e.occurred_at, e.received_at, e.prev_hash"
)
"""What a screen shows of a pruned event (:func:`row_event`), after the sort value; selected
only for a query that wants placeholders (any other reads no pruned row)."""
PAIR_SEPARATOR = "\x1f"
"""Between a product and an action in the keys of :meth:`_Sql.pairs` on PostgreSQL."""

SEQ_RANGE = (
    "SELECT min(seq), max(seq) FROM events WHERE tenant_id = {mark} AND occurred_at >= {mark}"
    " AND occurred_at < {mark} AND seq <= {head}"
)


def head(mark: str) -> str:
    """The tenant's recorded head (its one parameter: the tenant id), as a subquery run once.
    Readers are served no row above it: such a row was not appended by kansa, and a tenant
    without a row (deleted behind kansa's back) serves nothing."""
    return f"(SELECT h.last_seq FROM tenants h WHERE h.id = {mark})"


@dataclass
class Page:
    events: list[StoredEvent]
    next_cursor: Cursor | None


@dataclass
class _Sql:
    dialect: str
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def mark(self, value: Any) -> str:
        self.params.append(value)
        return "?" if self.dialect == "sqlite" else "%s"

    def marks(self, values: Iterable[Any]) -> str:
        return ", ".join(self.mark(v) for v in values)

    def contains(self, column: str, needle: str, lowered: bool = False) -> str:
        """Case-insensitive substring test (the needle is lower-cased here; a ``lowered``
        column is stored lower-cased already)."""
        fn = "instr" if self.dialect == "sqlite" else "strpos"
        haystack = column if lowered else f"lower(COALESCE({column}, ''))"
        return f"{fn}({haystack}, {self.mark(needle.lower())}) > 0"

    def pairs(self, pairs: frozenset[tuple[str, str]]) -> str:
        """The row's (product, action) is one of ``pairs``. On PostgreSQL, as one array
        parameter of ``product<US>action`` keys, which the server hashes once: a list of
        pairs (``VALUES``, 64 of them for a reader's visible types) is a join the planner
        sorts the whole window for, and twice as many parameters to send and plan. A key
        is exact when no pair holds the separator; the rare catalog where one does keeps
        the list."""
        if not pairs:
            return "1 = 0"
        if self.dialect == "postgresql" and (keys := pair_keys(pairs)) is not None:
            return f"(e.product || chr(31) || e.action) = ANY(CAST({self.mark(keys)} AS text[]))"
        rows = ", ".join(f"({self.mark(p)}, {self.mark(a)})" for p, a in sorted(pairs))
        return f"(e.product, e.action) IN (VALUES {rows})"


@lru_cache(maxsize=256)
def pair_keys(pairs: frozenset[tuple[str, str]]) -> str | None:
    """``pairs`` as the text of a PostgreSQL ``text[]`` of ``product<US>action`` keys, sorted
    (None when a name holds the separator). Made once for each set a reader may see, and
    sent as one string: psycopg writes a list of 45 strings out in Python each time, ~0.2 ms
    of a search (docs/benchmarks.md)."""
    ordered = sorted(pairs)
    if any(PAIR_SEPARATOR in product or PAIR_SEPARATOR in action for product, action in ordered):
        return None
    keys = (f"{product}{PAIR_SEPARATOR}{action}" for product, action in ordered)
    # every element quoted, so none reads as NULL or ends at a comma or a brace
    return "{" + ",".join(f'"{_quoted(key)}"' for key in keys) + "}"


def _quoted(key: str) -> str:
    """``key`` as a double-quoted element of an array's text holds it (without the quotes)."""
    return key.replace("\\", "\\\\").replace('"', '\\"')


def build(
    query: Query, dialect: str, paged: bool = True, via_index: index.Via = None
) -> tuple[str, list[Any]]:
    """The SELECT for one page of ``query`` (one row more than the limit, to know if there
    is a next page) and its parameters; with ``paged=False``, every row (for exports). On
    SQLite, ``via_index`` reads only the rows the free-text index holds for the query's
    terms (:func:`index_match`); PostgreSQL always offers its planner the index."""
    sql = _Sql(dialect)
    sql.where.append(f"e.tenant_id = {sql.mark(query.tenant)}")
    # "+e.seq": a filter on each row the plan reads, never the index the plan reads by — an
    # index range on seq up to the head holds the whole chain and leaves every row to sort.
    sql.where.append(f"+e.seq <= {head(sql.mark(query.tenant))}")
    if not query.placeholders:  # a pruned event is never returned, only shown as removed
        sql.where.append("e.pruned IS NULL")
    if query.since is not None:
        sql.where.append(f"e.occurred_at >= {sql.mark(to_micros(query.since))}")
    if query.until is not None:
        sql.where.append(f"e.occurred_at < {sql.mark(to_micros(query.until))}")
    if query.actor_id is not None:
        sql.where.append(f"e.actor_id = {sql.mark(query.actor_id)}")
    if query.visible is not None:
        sql.where.append(sql.pairs(query.visible))
    if query.group_actions is not None:
        sql.where.append(sql.pairs(query.group_actions))
    _filters(sql, query, via_index)
    if query.jobs:
        sql.where.append(
            "(e.correlation_id IS NULL OR NOT EXISTS (SELECT 1 FROM events later"
            " WHERE later.tenant_id = e.tenant_id AND later.correlation_id = e.correlation_id"
            f" AND later.seq > e.seq AND later.seq <= {head(sql.mark(query.tenant))}))"
        )
    sort = _label_rank(query) if query.sort == "label" else _SORT_SQL[query.sort]
    direction = "DESC" if query.descending else "ASC"
    if query.after is not None:
        op = "<" if query.descending else ">"
        sql.where.append(
            f"({sort}, e.seq) {op} ({sql.mark(query.after.value)}, {sql.mark(query.after.seq)})"
        )
    shown = f", {PLACEHOLDER_COLUMNS}" if query.placeholders else ""
    # Through the index, SQLite must fetch the index's rows by rowid and sort those few: left
    # to itself it reads the whole window by time and tests each row against them.
    table = "events e NOT INDEXED" if via_index == "rows" and dialect == "sqlite" else "events e"
    text = (
        f"SELECT {SELECT_COLUMNS}, {sort} AS sort_value{shown} FROM {table}"
        f" WHERE {' AND '.join(sql.where)}"
        f" ORDER BY {sort} {direction}, e.seq {direction}"
    )
    if paged:
        text += f" LIMIT {sql.mark(query.limit + 1)}"
    return text, sql.params


def _label_rank(query: Query) -> str:
    """The rank of each row's action label (:attr:`Query.labels`); unlisted actions last.
    The expression stands in the SELECT, the cursor's condition and the ORDER BY, so it
    holds literals, not marks: catalog names, quoted, and whole numbers."""
    whens = "".join(
        f" WHEN e.product = {_literal(product)} AND e.action = {_literal(action)} THEN {int(rank)}"
        for product, action, rank in query.labels
    )
    return f"(CASE{whens} ELSE {len(query.labels)} END)" if whens else "0"


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (standard quoting, as both engines read it)."""
    return "'" + text.replace("\x00", "").replace("'", "''") + "'"


def _filters(sql: _Sql, query: Query, via_index: index.Via) -> None:
    f = query.filters
    if f.nothing:
        sql.where.append("1 = 0")
    for column, values in (
        ("history", f.histories),
        ("category", f.categories),
        ("result", f.results),
        ("level", f.levels),
        ("app", f.apps),
    ):
        if values:
            sql.where.append(f"e.{column} IN ({sql.marks(values)})")
    if f.actions or f.logged_by:
        exact = [a for a in f.actions if not a.endswith("*")]
        terms = [f"e.action IN ({sql.marks(exact)})"] if exact else []
        for prefix in (a[:-1] for a in f.actions if a.endswith("*")):
            terms.append(f"e.action LIKE {sql.mark(like_prefix(prefix))} ESCAPE '\\'")
        for action, module in f.logged_by:  # params.module, a whole value of the search text
            named = f"e.action = {sql.mark(action)}"  # marks in the order of the text
            found = sql.contains("e.search_text", "\x1f" + module, lowered=True)
            terms.append(f"({named} AND {found})")
        sql.where.append("(" + " OR ".join(terms) + ")")
    if f.actor:
        sql.where.append(
            "("
            + " OR ".join(
                sql.contains(c, f.actor) for c in ("e.actor_id", "e.actor_login", "e.actor_name")
            )
            + ")"
        )
    if f.actor_id is not None:
        sql.where.append(f"e.actor_id = {sql.mark(f.actor_id)}")
    if f.target_id is not None:
        sql.where.append(f"e.target_id = {sql.mark(f.target_id)}")
    if f.target:
        sql.where.append(
            "("
            + " OR ".join(sql.contains(c, f.target) for c in ("e.target_id", "e.target_name"))
            + ")"
        )
    if f.ip:
        sql.where.append(
            f"(e.ip = {sql.mark(f.ip)} OR e.ip LIKE {sql.mark(like_prefix(f.ip))} ESCAPE '\\')"
        )
    if f.service:
        sql.where.append(f"e.service = {sql.mark(f.service)}")
    if f.trace_id:
        sql.where.append(f"e.trace_id = {sql.mark(f.trace_id)}")
    if f.correlation_id:
        sql.where.append(f"e.correlation_id = {sql.mark(f.correlation_id)}")
    needles = needles_of(query)
    for each in needles:
        sql.where.append(_holds(sql, each))
    if matched := index_match(query.tenant, needles, sql.dialect):
        if sql.dialect == "postgresql":
            sql.where.append(index.PG_ROWS.format(mark=sql.mark(matched)))
        elif via_index:
            sql.where.append(index.SQLITE_ROWS.format(mark=sql.mark(matched)))


def needles_of(query: Query) -> list[Needle]:
    """The free-text terms of ``query`` as the index and the exact rule see them."""
    return [needle(term) for term in query.filters.text]


def index_match(tenant: str, needles: list[Needle], dialect: str) -> str | None:
    """The engine's index query for ``needles`` (FTS5 MATCH, or tsquery), or None when the
    index serves none of them."""
    if dialect == "sqlite":
        return index.fts_match(tenant, needles)
    return index.tsquery(tenant, needles)


def _holds(sql: _Sql, found: Needle) -> str:
    """The exact rule of one free-text term: one of its forms is a substring of the search
    text and each word of that form starts a word there."""
    alternatives = []
    for form in found.forms:
        holds = sql.contains("e.search_text", form.text, lowered=True)
        starts = []
        for word in form.words:
            test, pattern = index.word_start(word, sql.dialect)
            starts.append(test.format(mark=sql.mark(pattern)))
        # the word starts (a pattern each) only where the substring is: CASE fixes the order,
        # which PostgreSQL would otherwise choose by its own costs; and on PostgreSQL, the
        # rule is a CASE even without them, so the planner does not count the term's
        # selectivity twice (it has the index condition's, from the terms' statistics)
        if starts or sql.dialect == "postgresql":
            then = " AND ".join(starts) or "1 = 1"
            holds = f"(CASE WHEN {holds} THEN {then} ELSE 1 = 0 END)"
        alternatives.append(holds)
    if len(alternatives) == 1:
        return alternatives[0]
    return "(" + " OR ".join(f"({a})" for a in alternatives) + ")"


def like_prefix(text: str) -> str:
    """A ``LIKE`` pattern (with ``ESCAPE '\\'``) matching what starts with ``text``: the
    reader's ``%`` and ``_`` are plain characters, never wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def page(rows: list[tuple[Any, ...]], query: Query) -> Page:
    """Rows of :func:`build` as a page of events and the cursor of the next page."""
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    events = [row_event(row) for row in rows]
    cursor = Cursor(rows[-1][3], rows[-1][2]) if more and rows else None
    return Page(events, cursor)


def row_event(row: Sequence[Any]) -> StoredEvent:
    """A row of :func:`build` as an event: as stored, or a pruned one's placeholder (a row
    of a query without placeholders has no columns for one)."""
    if len(row) < 5 or row[4] is None:
        return event_of(row[0], row[1])
    return placeholder(
        pruned=row[4],
        event_id=row[5],
        tenant=row[6],
        app=row[7],
        kind=(row[8], row[9], row[10], row[11]),
        result=row[12],
        level=row[13],
        times=(iso_utc(from_micros(row[14])), iso_utc(from_micros(row[15]))),
        chain=(int(row[2]), row[16], row[1]),
    )


def event_of(body: bytes | memoryview | str, hashed: str) -> StoredEvent:
    """A stored event as readers get it: the hashed event with seq, prev_hash and hash."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    envelope = orjson.loads(raw)
    event: StoredEvent = envelope["event"]  # as kansa wrote it, under its hash
    event.update({"seq": envelope["seq"], "prev_hash": envelope["prev_hash"], "hash": hashed})
    return event
