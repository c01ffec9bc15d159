"""One writer process for every worker (kansa/server/writer_hub.py), on every engine: the
requests the workers send while it commits share its next commit, each worker is answered its
own in the order it sent them, a worker that leaves does not stop the others, a hub killed in
the middle of a commit fails what it held with a 503 and a new one takes the next requests,
and its socket is its owner's alone."""

from __future__ import annotations

import functools
import os
import signal
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kansa.catalog import Catalog
from kansa.errors import ConfigError, StoreError, StoreUnavailable
from kansa.server.runtime import Runtime
from kansa.server.writer_hub import Hub, connect
from kansa.server.writer_process import ProcessWriter
from kansa.settings import Settings
from kansa.store import Store
from tests.helpers import intact, one_event, pca_event, wait_for
from tests.locks import taken_and_held


@pytest.fixture
def hub(store: Store, store_url: str) -> Iterator[Hub]:
    running = Hub(store_url, 5000)
    yield running
    running.close()


def worker_writer(store: Store, store_url: str, hub: Hub, at_once: bool) -> ProcessWriter:
    writer = ProcessWriter(
        store, store_url, at_once=at_once, connect=functools.partial(connect, hub.path)
    )
    writer.start()
    return writer


@pytest.fixture(params=[False, True], ids=["grouped", "at-once"])
def workers(
    request: pytest.FixtureRequest, store: Store, store_url: str, hub: Hub
) -> Iterator[tuple[ProcessWriter, ProcessWriter]]:
    one = worker_writer(store, store_url, hub, request.param)
    two = worker_writer(store, store_url, hub, request.param)
    yield one, two
    one.close()
    two.close()


def test_what_the_workers_send_during_a_commit_is_committed_together_each_answered_its_own(
    workers: tuple[ProcessWriter, ProcessWriter],
    store: Store,
    store_url: str,
    catalog: Catalog,
    tenant_id: str,
) -> None:
    first, second = workers
    assert first.child_pid is None and second.child_pid is None  # no writer process of their own
    with taken_and_held(first, store_url, tenant_id, one_event(catalog, tenant_id, 1)) as held:
        given = [
            (first, 2),
            (second, 3),
            (second, 4),
            (first, 5),
            (second, 6),
        ]
        futures = [
            (number, writer.submit(one_event(catalog, tenant_id, number)))
            for writer, number in given
        ]
        time.sleep(0.3)  # all sent on to the hub
    assert held.result(timeout=30)[0].seq == 1
    receipts = {number: future.result(timeout=30)[0] for number, future in futures}
    for number, receipt in receipts.items():  # each worker is answered its own event
        assert receipt.client_id == pca_event(tenant_id, number)["id"]
        assert not receipt.duplicate
    # each worker's requests in the order it sent them; all behind the held one
    assert receipts[2].seq < receipts[5].seq
    assert receipts[3].seq < receipts[4].seq < receipts[6].seq
    assert sorted(r.seq for r in receipts.values()) == [2, 3, 4, 5, 6]
    assert intact(store, tenant_id).head_seq == 6


def test_a_worker_that_leaves_does_not_stop_the_others(
    store: Store, store_url: str, hub: Hub, catalog: Catalog, tenant_id: str
) -> None:
    first = worker_writer(store, store_url, hub, True)
    second = worker_writer(store, store_url, hub, True)
    try:
        assert first.submit(one_event(catalog, tenant_id, 1)).result(timeout=30)[0].seq == 1
        first.close()
        assert second.submit(one_event(catalog, tenant_id, 2)).result(timeout=30)[0].seq == 2
        late = worker_writer(store, store_url, hub, True)  # a worker started again
        try:
            assert late.submit(one_event(catalog, tenant_id, 3)).result(timeout=30)[0].seq == 3
        finally:
            late.close()
    finally:
        second.close()
    assert intact(store, tenant_id).head_seq == 3


def test_a_hub_killed_mid_commit_fails_what_it_held_and_a_new_one_takes_the_next(
    workers: tuple[ProcessWriter, ProcessWriter],
    hub: Hub,
    store: Store,
    store_url: str,
    catalog: Catalog,
    tenant_id: str,
) -> None:
    first, second = workers
    store.append(one_event(catalog, tenant_id, 0))
    killed = hub.pid
    with taken_and_held(first, store_url, tenant_id, one_event(catalog, tenant_id, 1)) as held:
        os.kill(killed, signal.SIGKILL)
        error = held.exception(timeout=30)
    assert isinstance(error, StoreUnavailable)
    assert "retry with the same client ids" in str(error)
    wait_for(lambda: hub.pid != killed, timeout=30)

    def retried() -> bool:  # until the new hub listens; meanwhile a 503
        try:
            receipts = first.submit(one_event(catalog, tenant_id, 1)).result(timeout=30)
        except StoreUnavailable:
            return False
        assert receipts[0].seq == 2 and not receipts[0].duplicate  # the killed commit: nothing
        return True

    wait_for(retried, timeout=30)
    assert second.submit(one_event(catalog, tenant_id, 2)).result(timeout=30)[0].seq == 3
    assert intact(store, tenant_id).head_seq == 3


def test_a_hub_that_cannot_open_its_database_fails_its_start() -> None:
    with pytest.raises(ConfigError, match="unsupported database URL") as raised:
        Hub("mysql://kansa:hunter2@db.example/kansa", 5000)
    assert "hunter2" not in str(raised.value)


def test_the_hubs_socket_is_its_owners_alone_and_gone_with_it(hub: Hub) -> None:
    where = Path(hub.path)
    assert stat.S_IMODE(where.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    assert stat.S_ISSOCK(where.stat().st_mode)
    hub.close()
    assert not where.parent.exists()
    with pytest.raises(StoreError, match="does not answer"):
        connect(str(where))


def test_a_worker_runtime_sends_its_events_to_the_hub(
    store_url: str, hub: Hub, catalog: Catalog, tenant_id: str
) -> None:
    runtime = Runtime.from_settings(Settings(database_url=store_url, writer_socket=hub.path))
    runtime.start()
    try:
        writer = runtime.writer
        assert isinstance(writer, ProcessWriter) and writer.child_pid is None
        receipts = writer.submit(one_event(catalog, tenant_id, 1)).result(timeout=30)
        assert receipts[0].seq == 1
    finally:
        runtime.close()


def test_a_hub_is_not_stopped_by_ctrl_c(
    workers: tuple[ProcessWriter, ProcessWriter], hub: Hub, catalog: Catalog, tenant_id: str
) -> None:
    first, _ = workers
    running = hub.pid
    os.kill(running, signal.SIGINT)  # what a terminal sends the whole process group
    time.sleep(0.2)
    assert first.submit(one_event(catalog, tenant_id, 1)).result(timeout=30)[0].seq == 1
    assert hub.pid == running
    hub.close()  # the supervisor ends it
    with pytest.raises(ProcessLookupError):
        os.kill(running, 0)


def test_a_hub_that_cannot_start_again_is_tried_less_and_less_often(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[float] = []
    start = hub._start

    def failing() -> Any:
        tries.append(time.monotonic())
        if len(tries) < 4:
            raise StoreError("the database is away")
        return start()

    monkeypatch.setattr(hub, "_start", failing)
    killed = hub.pid
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: hub.pid != killed, timeout=30)
    gaps = [later - earlier for earlier, later in zip(tries, tries[1:], strict=False)]
    assert len(tries) == 4 and gaps[0] < gaps[1] < gaps[2], gaps
    connect(hub.path).close()  # the new one listens


def test_a_hub_told_to_stop_commits_what_the_workers_had_sent_first(
    workers: tuple[ProcessWriter, ProcessWriter],
    hub: Hub,
    store: Store,
    store_url: str,
    catalog: Catalog,
    tenant_id: str,
) -> None:
    first, second = workers
    with taken_and_held(first, store_url, tenant_id, one_event(catalog, tenant_id, 1)) as held:
        sent = second.submit(one_event(catalog, tenant_id, 2))
        time.sleep(0.3)  # on its way to the hub, not yet taken
        closing = threading.Thread(target=hub.close)
        closing.start()
        time.sleep(0.3)  # the hub is told to stop while it commits
    closing.join(30)
    assert held.result(timeout=30)[0].seq == 1
    assert sent.result(timeout=30)[0].seq == 2
    assert intact(store, tenant_id).head_seq == 2
