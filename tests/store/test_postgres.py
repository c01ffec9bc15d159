"""What only the PostgreSQL store has: monthly partitions, made ahead and on demand, client-id
idempotency across partitions, and many `kansa serve` processes on one database."""

from __future__ import annotations

import calendar
import itertools
import json
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from kansa.catalog import Catalog
from kansa.errors import StoreError
from kansa.events.prepare import prepare
from kansa.events.query import Filters, Query
from kansa.integrity.chain import Head
from kansa.store import pgarrays, postgres
from kansa.store.postgres import (
    MONTHS_AHEAD,
    MONTHS_BACK,
    MONTHS_OWN,
    PostgresStore,
    month_bounds,
    partition_name,
)
from kansa.store.search import build
from tests import pg
from tests.helpers import intact, pca_event, wait_for
from tests.net import free_port
from tests.raw import execute

KANSA = str(Path(sys.executable).parent / "kansa")


@pytest.fixture(scope="module")
def pg_url(postgres_server: str) -> Iterator[str]:
    """A database of this module's own, so partitions made here are the tests' to count."""
    url = pg.create_database(postgres_server)
    PostgresStore(url).migrate()
    yield url
    pg.drop_database(postgres_server, url)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(pg_url, pool_size=2)
    yield opened
    opened.close()


def partitions(url: str) -> dict[str, tuple[int, int]]:
    rows = execute(
        url,
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass",
    )
    bounds = {}
    for name, expression in rows:  # FOR VALUES FROM ('…') TO ('…'), or DEFAULT
        if expression == "DEFAULT":
            continue
        low, high = re.findall(r"-?\d+", expression)
        bounds[name] = (int(low), int(high))
    return bounds


def partition_of(url: str, tenant: str, event_id: str) -> str:
    ((name,),) = execute(
        url,
        "SELECT tableoid::regclass::text FROM events WHERE tenant_id = ? AND id = ?",
        tenant,
        event_id,
    )
    return str(name)


def test_month_bounds_are_utc_month_starts_in_microseconds() -> None:
    assert month_bounds((1970, 1)) == (0, 31 * 86_400_000_000)
    low, high = month_bounds((2026, 12))
    assert high == month_bounds((2027, 1))[0]
    assert datetime.fromtimestamp(low / 1e6, UTC) == datetime(2026, 12, 1, tzinfo=UTC)
    assert month_bounds((2024, 2))[1] - month_bounds((2024, 2))[0] == 29 * 86_400_000_000
    assert month_bounds((9999, 12))[1] > month_bounds((9999, 12))[0]
    assert partition_name((2019, 3)) == "events_y2019m03"


def test_partitions_exist_ahead_and_behind_after_migrate(pg_url: str) -> None:
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1
    wanted = [(i // 12, i % 12 + 1) for i in range(index - MONTHS_BACK, index + MONTHS_AHEAD + 1)]
    found = partitions(pg_url)
    for month in wanted:
        assert found[partition_name(month)] == month_bounds(month)
    ((strategy, key),) = execute(
        pg_url,
        "SELECT p.partstrat, a.attname FROM pg_partitioned_table p JOIN pg_attribute a"
        " ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
        " WHERE p.partrelid = 'events'::regclass",
    )
    assert (strategy, key) == ("r", "occurred_at")
    assert execute(
        pg_url,
        "SELECT partdefid::regclass::text FROM pg_partitioned_table"
        " WHERE partrelid = 'events'::regclass",
    ) == [("events_old",)], "one DEFAULT partition, for the months older than a year"


def test_a_back_dated_event_of_the_last_year_gets_its_month_made(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, pg_url: str
) -> None:
    year, month = months_ago(6)
    name = partition_name((year, month))
    assert name not in partitions(pg_url)
    # the last hour of the month before in UTC-1 is this month in UTC
    before = months_ago(7)
    last_day = calendar.monthrange(*before)[1]
    at = f"{before[0]}-{before[1]:02d}-{last_day}T23:30:00-01:00"
    (receipt,) = pg_store.append(prepare([pca_event(tenant_id, 1, occurred_at=at)], catalog))
    assert partition_of(pg_url, tenant_id, receipt.id) == name
    assert pg_store.get_event(tenant_id, receipt.id) is not None


def months_ago(count: int) -> tuple[int, int]:
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 - count
    return index // 12, index % 12 + 1


def test_a_resent_event_is_a_duplicate_whatever_month_it_now_claims(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str
) -> None:
    old = pca_event(tenant_id, 1, occurred_at="2018-02-01T00:00:00Z")
    (first,) = pg_store.append(prepare([old], catalog))
    again = pg_store.append(prepare([pca_event(tenant_id, 1), pca_event(tenant_id, 2)], catalog))
    assert again[0].duplicate and (again[0].id, again[0].seq) == (first.id, first.seq)
    assert not again[1].duplicate and again[1].seq == 2
    assert pg_store.count_events(tenant_id) == 2
    rows = execute(pg_store.url, "SELECT count(*) FROM event_keys WHERE tenant_id = ?", tenant_id)
    assert rows == [(2,)]


def test_a_partition_dropped_behind_the_stores_back_loses_no_later_event(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, pg_url: str
) -> None:
    year, month = months_ago(8)
    name = partition_name((year, month))
    at = f"{year}-{month:02d}-07T00:00:00Z"
    pg_store.append(prepare([pca_event(tenant_id, 1, occurred_at=at)], catalog))
    execute(pg_url, f"DROP TABLE {name}", bypass_triggers=True)  # as only an attacker can
    (receipt,) = pg_store.append(prepare([pca_event(tenant_id, 2, occurred_at=at)], catalog))
    assert partition_of(pg_url, tenant_id, receipt.id) == "events_old"
    assert pg_store.get_event(tenant_id, receipt.id) is not None


def test_event_keys_and_truncate_are_guarded_as_events_are(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, pg_url: str
) -> None:
    pg_store.append(prepare([pca_event(tenant_id)], catalog))
    for sql in (
        "UPDATE event_keys SET seq = 7 WHERE tenant_id = ?",
        "DELETE FROM event_keys WHERE tenant_id = ?",
    ):
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            execute(pg_url, sql, tenant_id)
    for table in ("events", "event_keys", "checkpoints"):
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            execute(pg_url, f"TRUNCATE {table}")
    assert pg_store.count_events(tenant_id) == 1


def test_many_stores_making_the_same_months_at_once_all_succeed(
    pg_url: str, catalog: Catalog, tenant_id: str
) -> None:
    wanted = [months_ago(n) for n in range(12, 8, -1)]
    months = [f"{y}-{m:02d}-15T00:00:00Z" for y, m in wanted]
    stores = [PostgresStore(pg_url, pool_size=2) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def publish(number: int, store: PostgresStore) -> None:
        batch = [
            pca_event(f"{tenant_id}-{number}", n, occurred_at=month)
            for n, month in enumerate(months)
        ]
        start.wait()
        try:
            store.append(prepare(batch, catalog))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=p) for p in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert {partition_name(m) for m in wanted} <= set(partitions(pg_url))


def test_an_unreachable_server_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        PostgresStore(f"postgresql://kansa@127.0.0.1:{free_port()}/kansa", connect_timeout=2)


def test_psycopg_prepares_nothing_by_itself(pg_store: PostgresStore) -> None:
    with pg_store._pool.connection() as conn:
        assert conn.prepare_threshold == postgres.ON_REQUEST_ONLY
        for _ in range(10):  # psycopg's own threshold is 5 runs
            conn.execute("SELECT count(*) FROM tenants WHERE id = %s", ("nobody",))
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
    assert pg_store._pool.max_size == 2


def _prepared(store: PostgresStore, starting: str = "") -> list[tuple[str, int, int]]:
    """(statement, generic plans, custom plans) prepared on the store's one connection (those
    whose text starts with ``starting``)."""
    with store._reads.connection() as conn:
        rows = conn.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE starts_with(statement, %s) ORDER BY prepare_time",
            (starting,),
        ).fetchall()
    return [(str(text), int(generic), int(custom)) for text, generic, custom in rows]


SEARCH = "SELECT e.body"


def test_a_search_without_free_text_is_planned_once_and_one_with_it_for_its_words(
    pg_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store = PostgresStore(pg_url, pool_size=1)
    try:
        store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
        plain = Query(tenant=tenant_id, filters=Filters(results=("success",)))
        for _ in range(8):
            assert len(store.search(plain).events) == 3
        ((statement, generic, custom),) = _prepared(store, SEARCH)
        marks = itertools.count(1)
        sent = re.sub("%s", lambda _: f"${next(marks)}", build(plain, "postgresql")[0])
        assert statement == sent
        assert (custom, generic) == (5, 3)  # five plans for the values, then one for any
        other = Query(tenant="t-nobody", filters=Filters(results=("success",)))
        assert store.search(other).events == []  # another tenant: the same statement
        assert _prepared(store, SEARCH)[0][1:] == (4, 5)
        worded = Query(tenant=tenant_id, filters=Filters(text=("pca",)))
        for _ in range(3):
            store.search(worded)
        assert len(_prepared(store, SEARCH)) == 1  # free text: planned for its words each time
    finally:
        store.close()


def test_a_connection_keeps_sixteen_prepared_searches_and_the_rest_still_answer(
    pg_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """Each set of filters is a statement of its own: past the cap, the least used is
    deallocated on the server, and a search of its shape is prepared again when it comes
    back, with the same answer."""
    store = PostgresStore(pg_url, pool_size=1)
    try:
        store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
        kinds = ("success", "failure", "ng", "ok", "error")
        shapes = [
            Filters(results=("success", *kinds[1 : 1 + extra]), levels=levels)
            for extra in range(4)
            for levels in ((), ("warning",), ("warning", "error"), ("info", "warning", "important"))
        ] + [Filters(results=("success",), categories=("user",) * n) for n in range(1, 5)]
        queries = [Query(tenant=tenant_id, filters=filters) for filters in shapes]
        assert len({build(query, "postgresql")[0] for query in queries}) == 20
        expected = []
        with psycopg.connect(pg_url, autocommit=True) as plain:
            for query in queries:
                text, params = build(query, "postgresql")
                expected.append(len(plain.execute(text, params).fetchall()))
        assert set(expected) == {0, 3}
        for _ in range(2):
            assert [len(store.search(query).events) for query in queries] == expected
            assert len(_prepared(store)) == postgres.PREPARED_MAX
    finally:
        store.close()


def test_the_tenants_row_is_read_by_one_prepared_statement(
    pg_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store = PostgresStore(pg_url, pool_size=1)
    try:
        store.append(prepare([pca_event(tenant_id, 1)], catalog))
        before = {text for text, _, _ in _prepared(store)}
        for _ in range(3):
            found = store.get_tenant(tenant_id)
            assert found is not None and found.id == tenant_id
        assert store.get_tenant("t-nobody") is None  # the same statement, another id
        (read,) = [row for row in _prepared(store) if row[0] not in before]
        assert read[0].startswith("SELECT ") and read[0].endswith("FROM tenants WHERE id = $1")
        assert read[1] + read[2] == 4  # run four times, parsed once
    finally:
        store.close()


def test_a_prepared_search_finds_an_event_in_a_month_partitioned_after_it_was_planned(
    postgres_server: str, catalog: Catalog, tenant_id: str
) -> None:
    """A cached generic plan lists the partitions of its time; one made later (a back-dated
    event of a month without one) must be read by the same statement at once, by a search
    and by the read of one event by its id."""
    url = pg.create_database(postgres_server)
    store = PostgresStore(url, pool_size=1)
    try:
        store.migrate()
        late = months_ago(9)
        assert partition_name(late) not in partitions(url)
        store.append(prepare([pca_event(tenant_id, 1)], catalog))
        since = datetime(*months_ago(11), 1, tzinfo=UTC)
        wanted = Query(tenant=tenant_id, since=since)
        for _ in range(6):
            assert len(store.search(wanted).events) == 1
        assert _prepared(store, SEARCH)[0][1:] == (1, 5)  # the generic plan, chosen after five
        for _ in range(6):  # one event by its id: prepared too, its generic plan chosen
            assert store.get_event(tenant_id, "evt-later") is None
        ((_, generic, _),) = _prepared(store, "SELECT body, hash FROM events")
        assert generic == 1
        at = f"{late[0]}-{late[1]:02d}-15T12:00:00Z"
        (receipt,) = store.append(
            prepare([pca_event(tenant_id, 2, occurred_at=at, id="evt-later")], catalog)
        )
        assert partition_of(url, tenant_id, receipt.id) == partition_name(late)
        found = store.search(wanted).events
        assert [e["id"] for e in found][-1] == receipt.id and len(found) == 2
        assert _prepared(store, SEARCH)[0][1:] == (2, 5)  # the generic plan, made again
        shown = store.get_event(tenant_id, receipt.id)
        assert shown is not None and shown["occurred_at"].startswith(at[:10])
        assert _prepared(store, "SELECT body, hash FROM events")[0][1] == 2
    finally:
        store.close()
        pg.drop_database(postgres_server, url)


def test_a_connection_the_server_ended_is_replaced_before_a_read_uses_it(pg_url: str) -> None:
    """The pool checks a connection it hands out by polling its socket, not by a round trip;
    one whose backend was terminated while idle must still be found and replaced."""
    store = PostgresStore(pg_url, pool_size=1)
    try:
        with store._pool.connection() as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (row[0],))
        assert store.get_tenant("nobody") is None  # no StoreUnavailable: a fresh connection
        with store._pool.connection() as conn:
            again = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert again is not None and again[0] != row[0]
    finally:
        store.close()


# -- four `kansa serve` processes on one database ----------------------------------------

TENANTS = ("conc-a", "conc-b", "conc-c")
MONTHS = ("2026-11-21T10:00:00+09:00", "2024-02-29T12:00:00Z", "2019-12-31T23:59:59-05:00")
PUBLISHERS, PER_PUBLISHER, BATCH, RESENT = 4, 500, 25, 20


def kansa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KANSA, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def servers(postgres_server: str, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """Four `kansa serve` processes started at once on a fresh database (so they also migrate
    it at once)."""
    url = pg.create_database(postgres_server)
    ports = [free_port() for _ in range(4)]
    logs = [open(tmp_path / f"serve-{port}.log", "w") for port in ports]
    processes = [
        subprocess.Popen(
            [KANSA, "serve", "--db", url, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 20
        for base, process, port in zip(bases, processes, ports, strict=True):
            while not _healthy(base):
                log = (tmp_path / f"serve-{port}.log").read_text()
                assert process.poll() is None, log
                assert time.monotonic() < deadline, f"kansa serve did not come up: {log}"
                time.sleep(0.1)
        yield url, bases
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for file in logs:
            file.close()
        pg.drop_database(postgres_server, url)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def work() -> list[list[dict[str, Any]]]:
    """Every publisher's batches, 3 tenants and 3 months mixed, then some batches again."""
    rng = random.Random(5)
    batches = []
    for publisher in range(PUBLISHERS):
        events = [
            pca_event(
                rng.choice(TENANTS), 0, id=f"p{publisher}-{n}", occurred_at=rng.choice(MONTHS)
            )
            for n in range(PER_PUBLISHER)
        ]
        batches += [events[i : i + BATCH] for i in range(0, PER_PUBLISHER, BATCH)]
    batches += rng.sample(batches, RESENT)
    rng.shuffle(batches)
    return batches


@pytest.mark.slow
def test_four_servers_keep_one_gapless_chain_per_tenant(
    servers: tuple[str, list[str]],
) -> None:
    url, bases = servers
    created = kansa(
        "apikey", "create", "--app", "PCA Hub", "--scopes", "publish", "--json", "--db", url
    )
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {json.loads(created.stdout)['key']}"}
    todo: queue.SimpleQueue[list[dict[str, Any]]] = queue.SimpleQueue()
    for batch in work():
        todo.put(batch)
    receipts: list[dict[str, Any]] = []
    failures: list[str] = []

    def publisher(number: int) -> None:
        with httpx.Client(headers=headers, timeout=30) as http:
            turn = number
            while True:
                try:
                    batch = todo.get_nowait()
                except queue.Empty:
                    return
                reply = http.post(
                    f"{bases[turn % len(bases)]}/api/v1/events", json={"events": batch}
                )
                turn += 1
                if reply.status_code not in (200, 201):
                    failures.append(f"{reply.status_code} {reply.text}")
                else:
                    receipts.extend(reply.json()["events"])

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(PUBLISHERS * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    verified = kansa("verify", "--db", url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    unique = PUBLISHERS * PER_PUBLISHER
    assert len(receipts) == unique + RESENT * BATCH
    assert sum(not r["duplicate"] for r in receipts) == unique
    stored = 0
    for tenant in TENANTS:
        seqs = [
            row[0]
            for row in execute(
                url, "SELECT seq FROM events WHERE tenant_id = ? ORDER BY seq", tenant
            )
        ]
        assert seqs == list(range(1, len(seqs) + 1)), f"gaps or repeats in {tenant}"
        stored += len(seqs)
    assert stored == unique
    assert execute(url, "SELECT count(DISTINCT (tenant_id, client_id)) FROM events") == [(unique,)]
    assert execute(url, "SELECT count(*) FROM event_keys") == [(unique,)]
    # A resent event got the receipt of the one stored, whichever process stored it.
    by_client: dict[str, set[tuple[str, int, str]]] = {}
    for r in receipts:
        by_client.setdefault(r["client_id"], set()).add((r["tenant"], r["seq"], r["hash"]))
    assert all(len(seen) == 1 for seen in by_client.values())


def test_three_hundred_events_over_25_years_make_a_year_of_partitions_at_most(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, pg_url: str
) -> None:
    before = set(partitions(pg_url))
    now = datetime.now(UTC)
    step = timedelta(days=25 * 365.25 / 300)
    batch = [pca_event(tenant_id, n, occurred_at=(now - n * step).isoformat()) for n in range(300)]
    receipts = pg_store.append(prepare(batch, catalog))
    made = set(partitions(pg_url)) - before
    assert len(made) <= MONTHS_OWN + 1, sorted(made)
    assert pg_store.count_events(tenant_id) == 300
    placed = dict(
        execute(
            pg_url,
            "SELECT tableoid::regclass::text, count(*) FROM events WHERE tenant_id = ? GROUP BY 1",
            tenant_id,
        )
    )
    assert placed["events_old"] >= 300 - (MONTHS_OWN + 1) * 2  # about one event a month
    assert all(pg_store.get_event(tenant_id, r.id) is not None for r in receipts[::37])


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE {partition}",
        "DROP TABLE {partition}",
        "ALTER TABLE events DETACH PARTITION {partition}",
        "ALTER TABLE {partition} DISABLE TRIGGER partition_refuse_truncate",
        "ALTER TABLE events DISABLE TRIGGER events_refuse_delete",
        "DROP TABLE events CASCADE",
        "DROP TABLE event_keys",
    ],
)
@pytest.mark.parametrize("which", ["this month", "events_old"])
def test_a_partition_can_be_neither_truncated_dropped_nor_detached(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, statement: str, which: str
) -> None:
    now = datetime.now(UTC)
    at = now.isoformat() if which == "this month" else "2003-03-03T00:00:00Z"
    pg_store.append(prepare([pca_event(tenant_id, 1, occurred_at=at)], catalog))
    name = partition_name((now.year, now.month)) if which == "this month" else "events_old"
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        execute(pg_store.url, statement.format(partition=name))
    assert pg_store.count_events(tenant_id) == 1
    assert execute(pg_store.url, "SELECT evtname, evtevent FROM pg_event_trigger ORDER BY 1") == [
        ("kansa_refuse_alter", "ddl_command_end"),
        ("kansa_refuse_drop", "sql_drop"),
    ]


@pytest.fixture(scope="module")
def owner_only(postgres_server: str) -> Iterator[str]:
    """A database owned by a role that is no superuser, ``kansa``, in a throwaway cluster
    of its own (roles are the whole cluster's: the shared server is left alone)."""
    try:
        server, stop = pg.throwaway_cluster()
    except pg.Unavailable as exc:
        pg.unavailable(str(exc))
        return
    try:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE ROLE kansa LOGIN")
            conn.execute("CREATE DATABASE kansa OWNER kansa")
        yield pg.with_database(server, "kansa").replace("//postgres@", "//kansa@", 1)
    finally:
        stop()


def test_run_as_the_owner_alone_kansa_works_and_only_the_event_triggers_are_missing(
    owner_only: str, catalog: Catalog, tenant_id: str
) -> None:
    store = PostgresStore(owner_only, pool_size=2)
    try:
        assert store.migrate()  # no superuser needed
        store.append(prepare([pca_event(tenant_id, 1), pca_event(tenant_id, 2)], catalog))
        assert execute(owner_only, "SELECT evtname FROM pg_event_trigger") == []
        ((month,),) = execute(
            owner_only,
            "SELECT DISTINCT tableoid::regclass::text FROM events WHERE tenant_id = ?",
            tenant_id,
        )
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            execute(owner_only, f"TRUNCATE {month}")
        # what docs/operations.md says the owner may still do without the event triggers
        execute(owner_only, f"ALTER TABLE events DETACH PARTITION {month}")
        assert store.count_events(tenant_id) == 0
    finally:
        store.close()


@pytest.fixture
def guesses(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each append that guessed its heads (one wait for the server, not four) had
    them right."""
    made: list[bool] = []
    guess = postgres._append_on

    def counted(*args: Any) -> Any:
        batch = guess(*args)
        made.append(batch is not None)
        return batch

    monkeypatch.setattr(postgres, "_append_on", counted)
    return made


@pytest.mark.parametrize("before", [2, 8], ids=["its-plans-for-the-values", "its-generic-plan"])
def test_a_head_another_store_moved_since_is_caught_and_the_append_chains_onto_it(
    pg_url: str,
    catalog: Catalog,
    tenant_id: str,
    guesses: list[bool],
    monkeypatch: pytest.MonkeyPatch,
    before: int,
) -> None:
    """A store guesses each tenant's head from its own last append. Another store (another
    `kansa serve` process) moving it in between must not fork the chain: the database refuses
    the guess, nothing of it is kept, and the append reads the head and links onto it. The
    guessed append is a prepared statement (parsing and planning it cost the server more
    than running it): after eight appends it runs by one generic plan for any heads, which
    must refuse the guess as surely as a plan made for the values."""
    monkeypatch.setattr(postgres, "GUESS_PAUSE", 0.0)
    one, two = PostgresStore(pg_url, pool_size=1), PostgresStore(pg_url, pool_size=1)
    try:
        for number in range(1, before + 1):  # the first reads the head, the others guess it
            one.append(prepare([pca_event(tenant_id, number)], catalog))
        assert guesses == [True] * (before - 1)
        ((_, generic, custom),) = _prepared(one, "WITH guess AS")
        assert (custom, generic) == (min(before - 1, 5), max(before - 6, 0))
        moved = [pca_event(tenant_id, before + 1), pca_event(tenant_id, before + 2)]
        two.append(prepare(moved, catalog))
        (moved_on,) = one.append(prepare([pca_event(tenant_id, before + 3)], catalog))
        assert guesses[-1] is False
        assert (moved_on.seq, moved_on.duplicate) == (before + 3, False)
        (again,) = one.append(prepare([pca_event(tenant_id, before + 4)], catalog))
        assert guesses[-1] is True and again.seq == before + 4  # the head it read since
        assert intact(one, tenant_id).checked == before + 4
        head = one.get_tenant(tenant_id)
        assert head is not None and head.last_seq == before + 4
    finally:
        one.close()
        two.close()


def test_a_head_moved_while_the_guess_waited_for_its_lock_fails_the_guess(
    pg_url: str, catalog: Catalog, tenant_id: str, guesses: list[bool]
) -> None:
    """The race the guess must lose: another append holds the tenant's row, moves its head
    and commits while the guessing statement waits for that lock — after the statement's
    snapshot was taken. The lock gives the head as committed, so the guess fails and the
    append chains after the other one's events."""

    def event(number: int) -> dict[str, Any]:  # each its own time, as in life
        return pca_event(tenant_id, number, occurred_at=f"2026-11-21T10:00:0{number}+09:00")

    store = PostgresStore(pg_url, pool_size=1)
    try:
        store.append(prepare([event(1)], catalog))
        answered: list[list[Any]] = []
        with psycopg.connect(pg_url) as other:  # a transaction, left open below
            postgres.configure(other)
            postgres._append(other.cursor(), prepare([event(n) for n in (2, 3)], catalog))
            late = threading.Thread(
                target=lambda: answered.append(store.append(prepare([event(4)], catalog)))
            )
            late.start()
            wait_for(lambda: _waiting_for_a_lock(pg_url), what="the guess waiting for the lock")
            other.commit()
            late.join(timeout=10)
        ((receipt,),) = answered
        assert guesses == [False] and (receipt.seq, receipt.duplicate) == (4, False)
        assert intact(store, tenant_id).checked == 4
    finally:
        store.close()


def test_rows_the_guess_cannot_pack_go_the_long_way(
    pg_url: str,
    catalog: Catalog,
    tenant_id: str,
    guesses: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The guessed append sends its rows as arrays it writes out itself (pgarrays), which
    refuse a value not of its column's type before anything is sent; the append then takes
    the long way, whose driver checks every value, and the chain is as if it had guessed."""
    monkeypatch.setattr(postgres, "GUESS_PAUSE", 0.0)
    store = PostgresStore(pg_url, pool_size=1)
    try:
        store.append(prepare([pca_event(tenant_id, 1)], catalog))
        packed = pgarrays.pack

        def refusing(kind: str, values: Any) -> Any:
            if kind == "bytea":
                raise pgarrays.Unpackable("refused here")
            return packed(kind, values)

        monkeypatch.setattr(pgarrays, "pack", refusing)
        (receipt,) = store.append(prepare([pca_event(tenant_id, 2)], catalog))
        monkeypatch.setattr(pgarrays, "pack", packed)
        (after,) = store.append(prepare([pca_event(tenant_id, 3)], catalog))
        assert guesses == [False, True]
        assert (receipt.seq, after.seq) == (2, 3)
        assert intact(store, tenant_id).checked == 3
    finally:
        store.close()


def _waiting_for_a_lock(url: str) -> bool:
    rows = execute(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database() AND application_name = 'kansa'",
    )
    return bool(rows[0][0])


def test_stores_taking_turns_on_a_tenant_stop_guessing_its_head(
    pg_url: str, catalog: Catalog, tenant_id: str, guesses: list[bool]
) -> None:
    """Two `kansa serve` processes on the same tenants would miss almost every guess, each
    miss a rolled-back try: after one, a store appends to that tenant the long way for a
    while."""
    one, two = PostgresStore(pg_url, pool_size=1), PostgresStore(pg_url, pool_size=1)
    try:
        for n in range(1, 21):
            (one if n % 2 else two).append(prepare([pca_event(tenant_id, n)], catalog))
        assert guesses.count(False) <= 2, guesses  # one miss each at most, in well under 1 s
        assert intact(one, tenant_id).checked == 20
    finally:
        one.close()
        two.close()


def test_guessed_heads_pause_after_a_miss_and_are_kept_for_the_latest_tenants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    heads = postgres.Heads(clock=lambda: now[0])
    assert heads.of(["a", "b"]) is None  # nothing known yet
    heads.moved({"a": Head(3, "h3"), "b": Head(1, "h1")})
    assert heads.of(["a", "b", "a"]) == {"a": Head(3, "h3"), "b": Head(1, "h1")}
    heads.missed({"a": Head(3, "h3")})
    heads.moved({"a": Head(5, "h5")})  # read the long way
    assert heads.of(["a", "b"]) is None and heads.of(["b"]) == {"b": Head(1, "h1")}
    now[0] += postgres.GUESS_PAUSE + 0.01
    assert heads.of(["a", "b"]) == {"a": Head(5, "h5"), "b": Head(1, "h1")}
    monkeypatch.setattr(postgres, "HEADS_KEPT", 2)
    heads.moved({"c": Head(1, "c1")})
    assert heads.of(["b"]) is None  # moved longest ago: let go
    assert heads.of(["a", "c"]) == {"a": Head(5, "h5"), "c": Head(1, "c1")}


def test_a_head_moved_by_the_same_store_outside_an_append_is_caught_too(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, guesses: list[bool]
) -> None:
    pg_store.append(prepare([pca_event(tenant_id, 1)], catalog))
    pg_store.set_legal_hold(tenant_id, "監査", prepare([pca_event(tenant_id, 2)], catalog)[0])
    (receipt,) = pg_store.append(prepare([pca_event(tenant_id, 3)], catalog))
    assert guesses == [False] and receipt.seq == 3
    assert intact(pg_store, tenant_id).checked == 3


def test_a_client_id_stored_before_fails_the_guess_quietly_and_is_a_duplicate(
    pg_store: PostgresStore,
    catalog: Catalog,
    tenant_id: str,
    guesses: list[bool],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Resent events are common (a publisher retrying): the guessed append meets the stored
    key, is rolled back without a word in the log, and the long way answers with the
    original receipts."""
    (first,) = pg_store.append(prepare([pca_event(tenant_id, 1)], catalog))
    pg_store.append(prepare([pca_event(tenant_id, 2)], catalog))
    again = prepare([pca_event(tenant_id, 1), pca_event(tenant_id, 3)], catalog)
    with caplog.at_level("WARNING"):
        resent = pg_store.append(again)
    assert caplog.records == []
    assert guesses == [True, False]
    assert resent[0].duplicate and (resent[0].id, resent[0].seq) == (first.id, 1)
    assert (resent[1].seq, resent[1].duplicate) == (3, False)
    assert pg_store.count_events(tenant_id) == 3
    assert intact(pg_store, tenant_id).checked == 3


def test_events_without_a_client_id_take_the_guess_too(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, guesses: list[bool]
) -> None:
    """kansa's own records carry no client id: the guess inserts no key for them (a failure
    here would only show as the long way taken, so the guesses are counted)."""
    pg_store.append(prepare([pca_event(tenant_id, 1)], catalog))
    anonymous = [pca_event(tenant_id, n) for n in (2, 3)]
    for event in anonymous:
        del event["id"]
    receipts = pg_store.append(prepare(anonymous, catalog))
    assert guesses == [True] and [r.seq for r in receipts] == [2, 3]
    rows = execute(pg_store.url, "SELECT count(*) FROM event_keys WHERE tenant_id = ?", tenant_id)
    assert rows == [(1,)]
    assert intact(pg_store, tenant_id).checked == 3


def test_a_batch_above_the_guessed_size_goes_the_long_way(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, guesses: list[bool]
) -> None:
    pg_store.append(prepare([pca_event(tenant_id, 1)], catalog))
    many = [pca_event(tenant_id, n) for n in range(2, postgres.GUESSED_MOST + 3)]
    receipts = pg_store.append(prepare(many, catalog))
    assert guesses == [] and receipts[-1].seq == postgres.GUESSED_MOST + 2


def test_an_append_failing_at_its_last_exchange_stores_nothing_and_frees_its_connection(
    pg_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """The append's own BEGIN and COMMIT share exchanges with its statements: an error in the
    last one (the keys, the heads, the COMMIT) leaves no row, no moved head, no lock, and the
    pool's one connection fit for the next append."""
    boom = f"{tenant_id}-boom"
    execute(
        pg_url,
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF NEW.client_id = '{boom}' THEN RAISE EXCEPTION 'refused'; END IF;"
        " RETURN NEW; END $$",
    )
    execute(
        pg_url,
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON event_keys"
        " FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
    )
    store = PostgresStore(pg_url, pool_size=1)
    try:
        store.append(prepare([pca_event(tenant_id, 1)], catalog))
        before = store.get_tenant(tenant_id)
        refused = [pca_event(tenant_id, 2), pca_event(tenant_id, 3) | {"id": boom}]
        with pytest.raises(StoreError, match="refused"):
            store.append(prepare(refused, catalog))
        assert store.get_tenant(tenant_id) == before
        assert store.count_events(tenant_id) == 1
        (receipt,) = store.append(prepare([pca_event(tenant_id, 2)], catalog))
        assert (receipt.seq, receipt.duplicate) == (2, False)
    finally:
        store.close()
        execute(pg_url, "DROP TRIGGER refuse_boom ON event_keys")
        execute(pg_url, "DROP FUNCTION refuse_boom()")


def test_every_partition_keeps_rows_whole_up_to_4000_bytes(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, pg_url: str
) -> None:
    (made,) = pg_store.append(
        prepare([pca_event(tenant_id, 1, occurred_at=_months_back(3))], catalog)
    )
    options = dict(
        execute(
            pg_url,
            "SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass",
        )
    )
    assert "events_old" in options and len(options) > 2
    assert all(o == "toast_tuple_target=4000" for o in options.values()), options
    # a row of ~3,000 bytes is stored whole: nothing of it goes out to TOAST
    ((toast,),) = execute(
        pg_url,
        "SELECT reltoastrelid::regclass::text FROM pg_class"
        " WHERE oid = (SELECT tableoid FROM events WHERE tenant_id = ? AND seq = ?)",
        tenant_id,
        made.seq,
    )
    chunks = execute(pg_url, f"SELECT count(*) FROM {toast}")
    long = pca_event(tenant_id, 2, occurred_at=_months_back(3), details={"note": "x" * 1200})
    (receipt,) = pg_store.append(prepare([long], catalog))
    ((size,),) = execute(
        pg_url,
        "SELECT pg_column_size(e.*) FROM events e WHERE tenant_id = ? AND id = ?",
        tenant_id,
        receipt.id,
    )
    assert 2600 < size < 4000
    assert execute(pg_url, f"SELECT count(*) FROM {toast}") == chunks
    assert made.seq == 1


def _months_back(count: int) -> str:
    year, month = months_ago(count)
    return f"{year}-{month:02d}-15T12:00:00+09:00"


KINDS = ["category", "history", "level", "result"]


def kinds_statistics(url: str) -> dict[str, tuple[list[str] | None, list[str], bool]]:
    """Each partition of ``events``: the columns and kinds of its ``<partition>_kinds``
    statistics, and whether an ANALYZE has taken them."""
    rows = execute(
        url,
        "SELECT c.relname, s.stxkind::text[], ARRAY(SELECT a.attname::text FROM pg_attribute a"
        "  WHERE a.attrelid = s.stxrelid AND a.attnum = ANY (s.stxkeys::int2[]) ORDER BY 1),"
        " EXISTS (SELECT 1 FROM pg_statistic_ext_data d WHERE d.stxoid = s.oid"
        "  AND d.stxdmcv IS NOT NULL)"
        " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " LEFT JOIN pg_statistic_ext s ON s.stxrelid = c.oid AND s.stxname = c.relname || '_kinds'"
        " WHERE i.inhparent = 'events'::regclass",
    )
    return {name: (kinds, columns, taken) for name, kinds, columns, taken in rows}


def test_the_planner_knows_which_kinds_of_event_occur_together(
    pg_store: PostgresStore, catalog: Catalog, tenant_id: str, pg_url: str
) -> None:
    """One event in ten a failed login, every other a user made: taken column by column, the
    planner would expect 1% of the month to be failed logins (10 of 1,000), and read all of a
    window's logins to sort them rather than the newest first (30 -> 4 ms measured at 400,000
    demo events)."""
    at = _months_back(10)
    failed = {"action": "auth.login_failed", "result": "failure", "occurred_at": at}
    events = [pca_event(tenant_id, n, **failed) for n in range(100)]
    events += [pca_event(tenant_id, n, occurred_at=at) for n in range(100, 1000)]
    receipts = pg_store.append(prepare(events, catalog))
    name = partition_of(pg_url, tenant_id, receipts[0].id)
    assert kinds_statistics(pg_url)[name][:2] == (["f", "m"], KINDS)  # made with the month
    execute(pg_url, f"ANALYZE {name}")  # as autovacuum does once enough rows have come
    where = f"FROM {name} WHERE tenant_id = ? AND category = 'auth' AND result = 'failure'"
    ((actual,),) = execute(pg_url, f"SELECT count(*) {where}", tenant_id)
    ((plan,),) = execute(pg_url, f"EXPLAIN (FORMAT JSON) SELECT 1 {where}", tenant_id)
    assert actual == 100
    assert plan[0]["Plan"]["Plan Rows"] >= 50, plan


def test_every_partition_has_the_kinds_statistics_and_the_migration_makes_them(
    postgres_server: str, catalog: Catalog
) -> None:
    url = pg.create_database(postgres_server)
    try:
        store = PostgresStore(url, pool_size=1)
        try:
            store.migrate()
            made = kinds_statistics(url)
            assert len(made) > 2 and "events_old" in made
            assert all(found[:2] == (["f", "m"], KINDS) for found in made.values()), made
            # a database of the schema before the statistics, holding events
            receipts = store.append(prepare([pca_event("t-kinds", n) for n in range(50)], catalog))
            holding = partition_of(url, "t-kinds", receipts[0].id)
            for name in made:
                execute(url, f"DROP STATISTICS {name}_kinds")
            execute(url, "DELETE FROM schema_migrations WHERE version = 16")
            assert all(found == (None, [], False) for found in kinds_statistics(url).values())
            assert store.migrate() == [
                "16: statistics of the kinds searched together (history, category, result, level)"
            ]
            again = kinds_statistics(url)
            assert again.keys() == made.keys()
            assert all(found[:2] == (["f", "m"], KINDS) for found in again.values()), again
            assert again[holding][2], "taken by the migration's ANALYZE"
        finally:
            store.close()
    finally:
        pg.drop_database(postgres_server, url)


def test_a_kind_is_an_index_condition_of_the_window(pg_url: str) -> None:
    """PostgreSQL tests the kinds of a search in the window's index too: each is a condition
    of the index scan, so a row of another kind is never read."""
    text, params = build(Query(tenant="t", filters=Filters(levels=("error",))), "postgresql")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN (COSTS OFF) {text}", params))
    scans = re.findall(r"Index Scan (?:Backward )?using (\w+) on (events_\w+)", plan)
    assert scans and all(i.startswith(f"{part}_tenant_id_occurred_at_") for i, part in scans)
    assert "Index Cond: ((tenant_id = 't'::text) AND (level = 'error'::text))" in plan, plan
