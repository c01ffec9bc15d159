"""The writer (kansa/server/writer.py) on every engine: requests that queue while a commit is
held up share the next commit; a bad one among them fails alone; a request made while the
writer is not running is refused at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import replace

import pytest

from kansa.catalog import Catalog
from kansa.errors import StoreError
from kansa.events.prepare import PreparedEvent, prepare
from kansa.integrity.verify import verify_store
from kansa.server.writer import Writer
from kansa.store import Receipt, Store
from tests.helpers import pca_event
from tests.locks import chain_held


@pytest.fixture
def writer(store: Store) -> Iterator[Writer]:
    running = Writer(store)
    running.start()
    yield running
    running.close()


def one(catalog: Catalog, tenant: str, number: int) -> list[PreparedEvent]:
    return prepare([pca_event(tenant, number)], catalog)


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
    store.append(one(catalog, tenant_id, 0))
    before = writer.commits
    batches = [one(catalog, tenant_id, n) for n in range(1, 7)]
    futures = queued_behind_a_held_commit(writer, store_url, tenant_id, batches)
    assert [f.result()[0].seq for f in futures] == [2, 3, 4, 5, 6, 7]
    assert writer.commits - before <= 2  # six requests, one commit after the held one


def test_a_bad_request_in_a_shared_commit_fails_alone(
    writer: Writer, store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    store.append(one(catalog, tenant_id, 0))
    bad = [replace(one(catalog, tenant_id, 99)[0], message_ja=None)]  # type: ignore[arg-type]
    # message_ja None breaks NOT NULL: the database refuses it
    batches = [one(catalog, tenant_id, 1), one(catalog, tenant_id, 2), bad]
    batches += [one(catalog, tenant_id, 3), one(catalog, tenant_id, 4)]
    futures = queued_behind_a_held_commit(writer, store_url, tenant_id, batches)
    assert isinstance(futures[2].exception(), StoreError)
    stored = [f.result()[0] for i, f in enumerate(futures) if i != 2]
    assert sorted(r.seq for r in stored) == [2, 3, 4, 5]
    assert store.count_events(tenant_id) == 5
    (walk,) = verify_store(store, tenant_id)
    assert walk.broken is None and walk.head_seq == 5


def test_a_writer_not_running_refuses_at_once(store: Store, catalog: Catalog) -> None:
    events = one(catalog, "org-w", 1)
    idle = Writer(store)
    with pytest.raises(StoreError, match="not running"):
        idle.submit(events)
    idle.start()
    idle.close()
    with pytest.raises(StoreError, match="not running"):
        idle.submit(events)
