"""KANSA_READ_DATABASE_URL: searches and streams (the console's pages, exports) read at the
read URL, everything else at the database URL. Shown with two databases of one server that
hold different events, so which one answered is plain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Query
from kansa.store import open_store
from kansa.store.base import Store
from tests import pg
from tests.helpers import pca_event


@pytest.fixture
def split(postgres_server: str, catalog: Catalog) -> Iterator[tuple[Store, Store]]:
    """A store writing to one database and reading from another, and the other alone."""
    primary, replica = pg.create_database(postgres_server), pg.create_database(postgres_server)
    alone = open_store(replica)
    store = open_store(primary, replica)
    try:
        for opened in (store, alone):
            opened.migrate()
        alone.append(prepare([pca_event("org-reads", 1, id="on-the-replica")], catalog))
        yield store, alone
    finally:
        store.close()
        alone.close()
        for url in (primary, replica):
            pg.drop_database(postgres_server, url)


def test_searches_and_streams_read_at_the_read_url(
    split: tuple[Store, Store], catalog: Catalog
) -> None:
    store, _ = split
    (receipt,) = store.append(prepare([pca_event("org-reads", 1, id="on-the-primary")], catalog))
    assert receipt.seq == 1 and store.count_events("org-reads") == 1
    searched = store.search(Query(tenant="org-reads")).events
    streamed = list(store.stream(Query(tenant="org-reads")))
    assert [e["client_id"] for e in searched] == ["on-the-replica"]
    assert [e["client_id"] for e in streamed] == ["on-the-replica"]
    assert [link.seq for link in store.chain("org-reads")] == [1]
    stored = store.get_event("org-reads", receipt.id)
    assert stored is not None and stored["client_id"] == "on-the-primary"
