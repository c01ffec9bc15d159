"""The free-text index on both engines: written in the append's transaction, removed with a
prune, an erasure or a purge's DELETE, filled by its migration for rows stored before it; a
search finds two-character Japanese words, names, logins, e-mails and IPs through it, and a
page is the same whether SQLite reads it through the index or across the window."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Query, parse_q
from kansa.events.terms import needle
from kansa.integrity.chain import Head
from kansa.store import Store, open_store
from kansa.store.base import Prune
from kansa.store.batch import Batch
from kansa.store.schema import EVENT_ROW, MIGRATIONS, MIGRATIONS_TABLE, render
from kansa.store.sqlite import SQLiteStore
from kansa.store.terms import Via
from tests import pg
from tests.helpers import pca_event
from tests.raw import execute
from tests.test_terms import matches


def engine(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def found(store: Store, tenant: str, q: str, **extra: Any) -> list[int]:
    page = store.search(Query(tenant=tenant, filters=parse_q(q), limit=200, **extra))
    return sorted(int(event["seq"]) for event in page.events)


def messages(tenant: str, texts: list[str]) -> list[dict[str, Any]]:
    return [
        pca_event(tenant, n, params={"login": "jiro", "note": text})
        for n, text in enumerate(texts, 1)
    ]


def terms_of(url: str, tenant: str) -> int:
    """How many of the tenant's rows have index terms (SQLite: rows of event_terms)."""
    if engine(url) == "sqlite":
        rows = execute(
            url,
            "SELECT count(*) FROM event_terms t JOIN events e ON e.rowid = t.rowid"
            " WHERE e.tenant_id = ?",
            tenant,
        )
    else:
        rows = execute(
            url, "SELECT count(*) FROM events WHERE tenant_id = ? AND terms IS NOT NULL", tenant
        )
    return int(rows[0][0])


TEXTS = [
    "ファイルを削除しました",
    "権限を変更しました",
    "kenta.suzuki7@example.jp から 203.0.113.12",
    "ICHIRO ログイン",
    "設定の変更",
]


def test_two_character_words_names_emails_and_ips_are_found(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare(messages(tenant_id, TEXTS), catalog))
    assert found(store, tenant_id, "削除") == [1]
    assert found(store, tenant_id, "変更") == [2, 5]
    assert found(store, tenant_id, "権限 変更") == [2]
    assert found(store, tenant_id, "suzuki") == [3]
    assert found(store, tenant_id, '"kenta.suzuki7@example"') == [3]
    assert found(store, tenant_id, "203.0.113") == [3]
    assert found(store, tenant_id, "ｉｃｈｉｒｏ") == [1, 2, 3, 4, 5]  # every actor is ichiro
    assert found(store, tenant_id, "zzzznothing") == []
    assert found(store, tenant_id, "uzuki") == []  # Latin matches at the start of words
    assert found(store, tenant_id, "削") == [1]  # one character: scanned, found the same


def test_other_tenants_words_are_not_found(store: Store, catalog: Catalog, tenant_id: str) -> None:
    store.append(prepare(messages(tenant_id, ["権限を削除"]), catalog))
    other = tenant_id + "-other"
    store.append(prepare(messages(other, ["権限を変更"]), catalog))
    assert found(store, tenant_id, "権限") == [1]
    assert found(store, other, "権限") == [1]
    assert found(store, tenant_id, "変更") == []


def test_a_pruned_or_erased_event_is_not_found_by_its_old_text(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare(messages(tenant_id, TEXTS), catalog))
    assert terms_of(store_url, tenant_id) == 5
    head = store.get_tenant(tenant_id)
    assert head is not None
    store.prune(
        Prune(tenant_id, head.last_seq, head.last_hash, "erasure", seqs=frozenset({1, 3})),
        lambda _: None,
    )
    assert found(store, tenant_id, "削除") == []
    assert found(store, tenant_id, "suzuki") == []
    assert found(store, tenant_id, "変更") == [2, 5]
    assert terms_of(store_url, tenant_id) == 3
    placeholders = store.search(Query(tenant=tenant_id, filters=parse_q("削除"), placeholders=True))
    assert placeholders.events == []


def test_a_purge_leaves_no_terms_behind(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(prepare(messages(tenant_id, TEXTS), catalog))
    if engine(store_url) == "sqlite":
        rowids = [
            r
            for (r,) in execute(
                store_url, "SELECT rowid FROM events WHERE tenant_id = ?", tenant_id
            )
        ]
        execute(store_url, "INSERT INTO purge_permits VALUES (?, 5)", tenant_id)
        execute(store_url, "DELETE FROM events WHERE tenant_id = ?", tenant_id)
        execute(store_url, "DELETE FROM purge_permits WHERE tenant_id = ?", tenant_id)
        # this tenant's rows only: the file is shared with tests that delete rows behind
        # kansa's back, triggers and all
        marks = ", ".join("?" * len(rowids))
        left = execute(
            store_url, f"SELECT count(*) FROM event_terms WHERE rowid IN ({marks})", *rowids
        )
        assert len(rowids) == len(TEXTS) and left == [(0,)]
    else:  # the terms are a column of the row: they go with it
        with psycopg.connect(store_url, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT set_config('kansa.purge', 'on', true)")
            conn.execute("DELETE FROM events WHERE tenant_id = %s", (tenant_id,))
    assert store.count_events(tenant_id) == 0
    store.append(prepare(messages(tenant_id, ["変更"]), catalog))  # a rowid used again
    assert found(store, tenant_id, "削除") == []


def test_sqlite_finds_the_rowids_when_they_are_not_one_above_the_largest(
    tmp_path: Path, catalog: Catalog
) -> None:
    """Past the largest rowid SQLite gives rows random ones: the terms follow them."""
    store = SQLiteStore(f"sqlite:///{tmp_path / 'rowids.db'}")
    store.migrate()
    store.append(prepare(messages("t", ["権限"]), catalog))
    execute(store.url, "UPDATE tenants SET last_seq = 1 WHERE id = 't'")
    row = execute(store.url, f"SELECT {', '.join(EVENT_ROW)} FROM events")[0]
    last = (*row[:1], 1000, "x-1000", None, *row[4:])  # a row at the largest rowid there is
    marks = ", ".join("?" * (len(EVENT_ROW) + 1))
    execute(
        store.url,
        f"INSERT INTO events (rowid, {', '.join(EVENT_ROW)}) VALUES ({marks})",
        2**63 - 1,
        *last,
    )
    store.append(prepare(messages("t", ["権限", "削除を権限"])[1:], catalog))
    assert found(store, "t", "削除") == [2]
    assert found(store, "t", "権限") == [1, 2]
    store.close()


def test_a_sqlite_page_is_the_same_through_the_index_or_across_the_window(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'same.db'}")
    store.migrate()
    texts = [f"{'変更' if n % 3 else '削除'} 利用者 suzuki{n} ichiro" for n in range(60)]
    store.append(prepare(messages("t", texts), catalog))
    for q in ("変更", "削除", "suzuki", "suzuki1", "変更 ichiro"):
        query = Query(tenant="t", filters=parse_q(q), limit=7)
        pages: dict[Via, list[list[int]]] = {}
        for via in ("rows", "filter", None):
            monkeypatch.setattr(store, "via_index", lambda _, via=via: via)
            walked, current = [], query
            while True:
                page = store.search(current)
                walked.append([int(e["seq"]) for e in page.events])
                if page.next_cursor is None:
                    break
                current = Query(tenant="t", filters=query.filters, limit=7, after=page.next_cursor)
            pages[via] = walked
        assert pages["rows"] == pages["filter"] == pages[None], q
        assert sum(map(len, pages[None])) > 0, q
    store.close()


def test_sqlite_reads_few_rows_by_rowid_more_through_the_window_and_common_terms_without(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kansa.store import terms

    store = SQLiteStore(f"sqlite:///{tmp_path / 'common.db'}")
    store.migrate()
    store.append(prepare(messages("t", ["変更"] * 6 + ["削除"] + ["権限"] * 3), catalog))
    monkeypatch.setattr(terms, "SQLITE_ROWS_UPTO", 1)
    monkeypatch.setattr(terms, "SQLITE_SCAN_ABOVE", 5)
    assert store.via_index(Query(tenant="t", filters=parse_q("削除"))) == "rows"
    assert store.via_index(Query(tenant="t", filters=parse_q("変更 削除"))) == "rows"
    assert store.via_index(Query(tenant="t", filters=parse_q("変更"))) is None
    assert store.via_index(Query(tenant="t", filters=parse_q("権限"))) == "filter"
    assert store.via_index(Query(tenant="t", filters=parse_q("削"))) is None  # not indexed
    assert found(store, "t", "変更") == [1, 2, 3, 4, 5, 6]
    store.close()


# -- the migration fills the index for rows stored before it -----------------------------


def _before_the_index(url: str, catalog: Catalog, tenant: str, texts: list[str]) -> None:
    """A database with every migration but the index's, and the tenant's events in it."""
    dialect = engine(url)
    statements = [render(MIGRATIONS_TABLE, dialect)]
    for migration in MIGRATIONS:
        if migration.fill is not None:
            break
        statements += migration.statements_for(dialect)
    for statement in statements:
        if dialect == "sqlite":
            execute(url, statement)
        else:  # without parameters: a statement may hold a '%'
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(statement.encode())
    for migration in MIGRATIONS:
        if migration.fill is not None:
            break
        execute(url, "INSERT INTO schema_migrations VALUES (?, ?, 0)", migration.version, "m")
    events = [
        pca_event(
            tenant, n, occurred_at="2024-03-01T10:00:00+09:00", params={"login": "j", "note": text}
        )
        for n, text in enumerate(texts, 1)
    ]
    batch = Batch({tenant: Head()}, {})
    made = list(batch.rows(prepare(events, catalog)))
    head = batch.moved[tenant]
    execute(
        url,
        "INSERT INTO tenants (id, tz, lang, created_at, last_seq, last_hash)"
        " VALUES (?, 'Asia/Tokyo', 'ja', 0, ?, ?)",
        tenant,
        head.seq,
        head.hash,
    )
    marks = ", ".join("?" * len(EVENT_ROW))
    for row in made:
        execute(url, f"INSERT INTO events ({', '.join(EVENT_ROW)}) VALUES ({marks})", *row)


def test_the_migration_fills_the_index_for_rows_stored_before_it(
    store_url: str, catalog: Catalog, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if engine(store_url) == "sqlite":
        url, server = f"sqlite:///{tmp_path / 'before.db'}", None
        (tmp_path / "before.db").touch(mode=0o600)
    else:
        server = request.getfixturevalue("postgres_server")
        url = pg.create_database(server)
    try:
        _before_the_index(url, catalog, "t-old", TEXTS)
        store = open_store(url)
        try:
            assert any("free-text index" in name for name in store.migrate())
            assert terms_of(url, "t-old") == len(TEXTS)
            assert found(store, "t-old", "削除") == [1]
            assert found(store, "t-old", "suzuki") == [3]
            assert found(store, "t-old", "zzzznothing") == []
            store.append(prepare(messages("t-old", ["削除"] * 6)[5:], catalog))
            assert found(store, "t-old", "削除") == [1, 6]
        finally:
            store.close()
        if engine(url) == "postgresql":  # the UPDATE refusal is back after the fill
            with pytest.raises(psycopg.errors.RestrictViolation):
                execute(url, "UPDATE events SET actor_name = 'x' WHERE tenant_id = 't-old'")
    finally:
        if server is not None:
            pg.drop_database(server, url)


# -- the rule, on the engines --------------------------------------------------------------

WORDS = ["ichiro", "suzuki7", "203", "0", "113", "削除", "変更", "権限", "ユーザー", "ab", "x"]
JOINS = [" ", ".", "@", "", "を"]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    texts=st.lists(
        st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(JOINS)), max_size=6),
        min_size=1,
        max_size=6,
    ),
    term=st.lists(
        st.tuples(st.sampled_from(WORDS + ["chiro", "uzuki", "除変"]), st.sampled_from(JOINS)),
        min_size=1,
        max_size=2,
    ),
)
def test_a_search_returns_exactly_the_events_the_rule_matches(
    store: Store,
    store_url: str,
    catalog: Catalog,
    texts: list[list[tuple[str, str]]],
    term: list[tuple[str, str]],
) -> None:
    """Whatever the texts and the term, a search returns the events the stated rule matches
    (tests/test_terms.py's ``matches``) and no other: the index loses none."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    notes = ["".join(w + j for w, j in text) for text in texts]
    needle_text = "".join(w + j for w, j in term).strip() or "ichiro"
    store.append(prepare(messages(tenant, notes), catalog))
    stored = execute(store_url, "SELECT seq, search_text FROM events WHERE tenant_id = ?", tenant)
    expected = sorted(int(seq) for seq, text in stored if matches(needle(needle_text), text))
    assert found(store, tenant, f'"{needle_text}"') == expected


def test_sqlite_counts_a_common_word_whole_before_every_word_it_starts(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FTS5 gathers every term a prefix starts before it counts one row: a word common on its
    own sends the search across the window without that."""
    from kansa.store import terms

    store = SQLiteStore(f"sqlite:///{tmp_path / 'whole.db'}")
    store.migrate()
    store.append(prepare(messages("t", ["suzuki"] * 6 + ["suzuki7 suzukiX"]), catalog))
    monkeypatch.setattr(terms, "SQLITE_SCAN_ABOVE", 5)
    counted: list[str] = []
    held = store._held

    def counting(match: str, limit: int) -> int:
        counted.append(match)
        return held(match, limit)

    monkeypatch.setattr(store, "_held", counting)
    assert store.via_index(Query(tenant="t", filters=parse_q("suzuki"))) is None
    assert counted == [terms.fts_match("t", [needle("suzuki")], whole=True)]
    counted.clear()
    assert store.via_index(Query(tenant="t", filters=parse_q("suzukix"))) == "rows"
    assert len(counted) == 2 and counted[1] == terms.fts_match("t", [needle("suzukix")])
    assert found(store, "t", "suzuki") == list(range(1, 8))
    store.close()
