"""The writer on every engine, in a thread (kansa/server/writer.py) and with its commits in a
process of its own (kansa/server/writer_process.py): requests that queue while a commit is
held up share the next commit; a bad one among them fails alone; a request made while the
writer is not running is refused at once. The process: it commits together what it was sent
while it committed the last, up to the most a commit takes; killed in the middle of a commit,
its requests get a 503 and the next request starts a new one; Ctrl-C does not stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kansa.catalog import Catalog
from kansa.errors import ConfigError, StoreError, StoreUnavailable
from kansa.events.prepare import PreparedEvent, prepare
from kansa.server.metrics import Metrics
from kansa.server.runtime import Runtime
from kansa.server.writer import Writer
from kansa.server.writer_process import WRITER_CACHE_MIB, ProcessWriter, _start, sendable
from kansa.settings import Settings
from kansa.store import Receipt, Store, open_store
from kansa.store.sqlite import SQLiteStore
from tests.helpers import intact, one_event, pca_event, wait_for
from tests.locks import chain_held, taken_and_held


@pytest.fixture(params=["thread", "process"])
def writer(request: pytest.FixtureRequest, store: Store, store_url: str) -> Iterator[Writer]:
    running = Writer(store) if request.param == "thread" else ProcessWriter(store, store_url)
    running.start()
    yield running
    running.close()


@pytest.fixture(params=[False, True], ids=["grouped", "at-once"])
def process_writer(
    request: pytest.FixtureRequest, store: Store, store_url: str
) -> Iterator[ProcessWriter]:
    running = ProcessWriter(store, store_url, at_once=request.param)
    running.start()
    yield running
    running.close()


@pytest.fixture
def at_once(store: Store, store_url: str) -> Iterator[ProcessWriter]:
    running = ProcessWriter(store, store_url, at_once=True)
    running.start()
    yield running
    running.close()


def queued_behind_a_held_commit(
    writer: Writer, store_url: str, tenant: str, batches: list[list[PreparedEvent]]
) -> list[Future[list[Receipt]]]:
    """Submit ``batches[0]``, which waits for a lock another connection holds, then the rest,
    which queue behind it; release the lock and wait for every answer."""
    with chain_held(store_url, tenant):
        futures = [writer.submit(batches[0])]
        time.sleep(0.2)  # the writer has taken the first and waits for the lock
        futures += [writer.submit(batch) for batch in batches[1:]]
    for future in futures:
        future.exception(timeout=30)
    return futures


def test_requests_queued_during_a_commit_share_the_next_one(
    writer: Writer, store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(one_event(catalog, tenant_id, 0))
    before = writer.commits
    batches = [one_event(catalog, tenant_id, n) for n in range(1, 7)]
    futures = queued_behind_a_held_commit(writer, store_url, tenant_id, batches)
    assert [f.result()[0].seq for f in futures] == [2, 3, 4, 5, 6, 7]
    assert writer.commits - before <= 2  # six requests, one commit after the held one


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_the_queue_depth_counts_requests_until_their_commit(
    kind: str, store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """Sent on to the writer process, a request still waits: it counts until answered."""
    metrics = Metrics()
    running = (
        Writer(store, metrics=metrics)
        if kind == "thread"
        else ProcessWriter(store, store_url, metrics=metrics)
    )
    running.start()
    try:
        store.append(one_event(catalog, tenant_id, 0))
        with chain_held(store_url, tenant_id):
            futures = [running.submit(one_event(catalog, tenant_id, n)) for n in range(1, 4)]
            time.sleep(0.3)  # the first waits for the lock, the others behind it
            assert metrics.registry.get_sample_value("kansa_writer_queue_depth") == 3
        for future in futures:
            future.result(timeout=30)
        assert metrics.registry.get_sample_value("kansa_writer_queue_depth") == 0
    finally:
        running.close()


def test_a_bad_request_in_a_shared_commit_fails_alone(
    writer: Writer, store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(one_event(catalog, tenant_id, 0))
    bad = [replace(one_event(catalog, tenant_id, 99)[0], message_ja=None)]  # type: ignore[arg-type]
    # message_ja None breaks NOT NULL: the database refuses it
    batches = [one_event(catalog, tenant_id, 1), one_event(catalog, tenant_id, 2), bad]
    batches += [one_event(catalog, tenant_id, 3), one_event(catalog, tenant_id, 4)]
    futures = queued_behind_a_held_commit(writer, store_url, tenant_id, batches)
    assert isinstance(futures[2].exception(), StoreError)
    stored = [f.result()[0] for i, f in enumerate(futures) if i != 2]
    assert sorted(r.seq for r in stored) == [2, 3, 4, 5]
    assert store.count_events(tenant_id) == 5
    walk = intact(store, tenant_id)
    assert walk.head_seq == 5


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_a_writer_not_running_refuses_at_once(
    kind: str, store: Store, store_url: str, catalog: Catalog
) -> None:
    events = one_event(catalog, "org-w", 1)
    idle = Writer(store) if kind == "thread" else ProcessWriter(store, store_url)
    with pytest.raises(StoreError, match="not running"):
        idle.submit(events)
    idle.start()
    idle.close()
    with pytest.raises(StoreError, match="not running"):
        idle.submit(events)


def test_the_child_commits_together_what_was_sent_while_it_committed(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    """The writer sends each request on as it comes; the child does not wait for this process
    between commits, and takes every list sent meanwhile (here at most three events)."""
    store.append(one_event(catalog, tenant_id, 0))
    child, we_send, we_read = _start(store_url, 3)  # as the writer starts it: python -c
    try:
        assert we_read.recv() is None  # the store is open
        with chain_held(store_url, tenant_id):
            we_send.send([one_event(catalog, tenant_id, 1)])
            time.sleep(0.3)  # the child has taken it and waits for the lock
            for n in range(2, 6):
                we_send.send([one_event(catalog, tenant_id, n)])
        answers = [we_read.recv() for _ in range(3)]
        we_send.send(None)
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        we_send.close()
        we_read.close()
    assert [(len(outcomes), shared, lists) for outcomes, shared, lists in answers] == [
        (1, False, 1),
        (3, True, 3),  # sent during the held commit: one commit, up to three events
        (1, False, 1),
    ]
    seqs = [
        receipt.seq for outcomes, _, _ in answers for outcome in outcomes for receipt in outcome
    ]
    assert seqs == [2, 3, 4, 5, 6]
    walk = intact(store, tenant_id)
    assert walk.head_seq == 6


def test_the_writer_processs_receipts_are_the_stores_field_by_field(
    process_writer: ProcessWriter, store: Store, catalog: Catalog, tenant_id: str
) -> None:
    """Receipts come back from the child pickled: each says what was stored, a resent client
    id included (``duplicate``), and one without a client id says so."""
    sent = [pca_event(tenant_id, 1), {**pca_event(tenant_id, 2), "id": None}]
    first = process_writer.submit(prepare(sent, catalog)).result(timeout=30)
    again = process_writer.submit(prepare(sent[:1], catalog)).result(timeout=30)
    for receipt in first:
        stored = store.get_event(tenant_id, receipt.id)
        assert stored is not None
        assert receipt == Receipt(
            stored["id"], stored["client_id"], tenant_id, stored["seq"], stored["hash"]
        )
    assert [(r.client_id, r.seq, r.duplicate) for r in first] == [
        ("evt-1", 1, False),
        (None, 2, False),
    ]
    assert again == [replace(first[0], duplicate=True)]


def test_a_store_opened_for_the_writer_process_keeps_a_smaller_sqlite_cache(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    for store, mib in (
        (open_store(url, sqlite_cache_mib=WRITER_CACHE_MIB), 32),
        (open_store(url), 64),
    ):
        assert isinstance(store, SQLiteStore)
        try:
            assert store.db.execute("PRAGMA cache_size").fetchone()[0] == -mib * 1024
        finally:
            store.close()


def test_a_request_that_cannot_be_sent_to_the_child_fails_alone(
    process_writer: ProcessWriter, store: Store, catalog: Catalog, tenant_id: str
) -> None:
    odd = [replace(one_event(catalog, tenant_id, 9)[0], message_ja=lambda: "x")]  # type: ignore[arg-type]
    refused = process_writer.submit(odd).exception(timeout=30)
    assert isinstance(refused, StoreError) and not isinstance(refused, StoreUnavailable)
    assert "could not hand the events to the writer process" in str(refused)
    receipts = process_writer.submit(one_event(catalog, tenant_id, 1)).result(timeout=30)
    assert receipts[0].seq == 1  # the same child goes on
    assert store.count_events(tenant_id) == 1


def _sent_by_the_thread(
    writer: ProcessWriter, monkeypatch: pytest.MonkeyPatch, held: threading.Event | None = None
) -> list[int]:
    """The size of each group the writer thread sends on (the others went on at once); with
    ``held``, the thread waits for it to be set before each send."""
    sizes: list[int] = []
    send = writer._send

    def counted(group: list[Any]) -> None:
        if held is not None:
            held.wait(timeout=30)
        sizes.append(len(group))
        send(group)

    monkeypatch.setattr(writer, "_send", counted)
    return sizes


def test_a_small_request_goes_straight_to_the_child_unless_its_pipe_is_full(
    at_once: ProcessWriter,
    store: Store,
    catalog: Catalog,
    tenant_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sent on by the caller (the event loop), a request does not wait for the writer
    thread's turn on the interpreter lock. Where the pipe could not take it without
    blocking, the writer thread sends it, as it sends every large one."""
    by_thread = _sent_by_the_thread(at_once, monkeypatch)
    for n in range(1, 4):
        at_once.submit(one_event(catalog, tenant_id, n)).result(timeout=30)
    assert by_thread == []
    committer = at_once._committer
    assert committer is not None
    room = committer._room
    monkeypatch.setattr(committer, "_room", lambda length: False)  # as if the child lagged
    at_once.submit(one_event(catalog, tenant_id, 4)).result(timeout=30)
    assert by_thread == [1]
    monkeypatch.setattr(committer, "_room", room)
    at_once.submit(one_event(catalog, tenant_id, 5)).result(timeout=30)
    assert by_thread == [1]  # at once again
    large = prepare([pca_event(tenant_id, n) for n in range(6, 26)], catalog)
    at_once.submit(large).result(timeout=30)
    assert by_thread == [1, 1]
    walk = intact(store, tenant_id)
    assert walk.head_seq == 25


def test_a_request_given_after_one_the_thread_holds_is_committed_after_it(
    at_once: ProcessWriter,
    store: Store,
    catalog: Catalog,
    tenant_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small request never overtakes a large one handed to the writer thread before it:
    it waits behind it, so the chain holds them in the order they were given. Here the
    thread is held before it sends the large one on, while the small ones are given."""
    store.append(one_event(catalog, tenant_id, 0))
    held = threading.Event()
    sizes = _sent_by_the_thread(at_once, monkeypatch, held)
    large = prepare([pca_event(tenant_id, n) for n in range(1, 21)], catalog)
    futures = [at_once.submit(large)]
    futures += [at_once.submit(one_event(catalog, tenant_id, n)) for n in range(21, 25)]
    held.set()
    firsts = [future.result(timeout=30)[0].seq for future in futures]
    assert firsts == [2, 22, 23, 24, 25]
    assert sum(sizes) == 5  # every one behind the large one went through the thread
    assert intact(store, tenant_id).head_seq == 25


def test_a_writer_process_killed_mid_commit_fails_its_requests_and_the_next_starts_anew(
    process_writer: ProcessWriter, store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(one_event(catalog, tenant_id, 0))
    first = process_writer.child_pid
    assert first is not None
    with taken_and_held(
        process_writer, store_url, tenant_id, one_event(catalog, tenant_id, 1)
    ) as held:
        os.kill(first, signal.SIGKILL)
        error = held.exception(timeout=30)
    assert isinstance(error, StoreUnavailable)
    assert "retry with the same client ids" in str(error)
    retried = process_writer.submit(one_event(catalog, tenant_id, 1)).result(timeout=30)
    assert retried[0].seq == 2 and not retried[0].duplicate  # the killed commit stored nothing
    assert process_writer.child_pid not in (None, first)
    assert store.count_events(tenant_id) == 2
    walk = intact(store, tenant_id)
    assert walk.head_seq == 2


def test_a_writer_process_is_not_stopped_by_ctrl_c(
    process_writer: ProcessWriter, store: Store, catalog: Catalog, tenant_id: str
) -> None:
    child = process_writer.child_pid
    assert child is not None
    os.kill(child, signal.SIGINT)  # what a terminal sends the whole process group
    time.sleep(0.2)
    receipts = process_writer.submit(one_event(catalog, tenant_id, 1)).result(timeout=30)
    assert receipts[0].seq == 1
    assert process_writer.child_pid == child
    process_writer.close()  # the writer ends it
    assert process_writer.child_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_a_writer_process_that_cannot_open_its_database_fails_the_start(store: Store) -> None:
    idle = ProcessWriter(store, "mysql://kansa:hunter2@db.example/kansa")
    with pytest.raises(ConfigError, match="unsupported database URL") as raised:
        idle.start()
    assert "hunter2" not in str(raised.value)
    assert idle.child_pid is None
    with pytest.raises(StoreError, match="not running"):
        idle.submit([])


class _TwoArguments(Exception):
    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{what} at {where}")


def test_an_error_that_cannot_cross_to_the_writer_says_what_it_was() -> None:
    plain = StoreUnavailable("the database is away")
    assert sendable(plain) is plain
    odd = sendable(_TwoArguments("bad", "here"))
    assert type(odd) is StoreError
    assert str(odd) == "could not store events: _TwoArguments: bad at here"


def _writer_of(settings: Settings) -> type[Writer]:
    runtime = Runtime.from_settings(settings)
    runtime.close()
    return type(runtime.writer)


def test_the_runtime_commits_in_a_process_unless_told_or_in_memory(store_url: str) -> None:
    assert _writer_of(Settings(database_url=store_url)) is ProcessWriter
    assert _writer_of(Settings(database_url=store_url, writer_process=False)) is Writer
    assert _writer_of(Settings(database_url="sqlite:///:memory:")) is Writer


def test_requests_go_on_at_once_to_a_postgresql_writer_and_in_groups_to_a_sqlite_one(
    store_url: str, store: Store, catalog: Catalog, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's own process does most of a commit's work, so the child commits requests
    as they come; a SQLite child does all of it itself, and takes them in groups the
    writer thread makes (docs/benchmarks.md)."""
    runtime = Runtime.from_settings(Settings(database_url=store_url))
    writer = runtime.writer
    assert isinstance(writer, ProcessWriter)
    writer.start()
    try:
        by_thread = _sent_by_the_thread(writer, monkeypatch)
        for n in range(1, 4):
            writer.submit(one_event(catalog, tenant_id, n)).result(timeout=30)
        assert len(by_thread) == (3 if store_url.startswith("sqlite") else 0)
    finally:
        runtime.close()


def _ended(pid: int) -> bool:
    """The process is gone, or only waits to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_process_that_never_closes_its_writer_still_exits_and_so_does_the_child(
    store_url: str,
) -> None:
    """A crash before the writer's close: the process exits, and the child, whose pipe then
    closes, ends on its own."""
    script = (
        "import sys\n"
        "from kansa.store import open_store\n"
        "from kansa.server.writer_process import ProcessWriter\n"
        "store = open_store(sys.argv[1])\n"
        "writer = ProcessWriter(store, sys.argv[1])\n"
        "writer.start()\n"
        "print(writer.child_pid, flush=True)\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", script, store_url], capture_output=True, text=True, timeout=60
    )
    assert ended.returncode == 0, ended.stderr
    child = int(ended.stdout)
    wait_for(lambda: _ended(child), what="the writer process to end")
