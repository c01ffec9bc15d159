"""Fixtures of the streaming tests: a fresh database of each engine (delivery claims every
due cursor of its database, so each test has one of its own), the signing key, a publisher."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kansa.catalog import Catalog
from kansa.cli import app
from kansa.events.prepare import prepare
from kansa.integrity.keyfile import load_signer
from kansa.integrity.signing import Signer
from kansa.settings import Settings
from kansa.store import Store, open_store
from tests.helpers import pca_event

Publish = Callable[[str, int], None]


@pytest.fixture
def fresh_store(fresh_url: str) -> Iterator[Store]:
    opened = open_store(fresh_url)
    yield opened
    opened.close()


@pytest.fixture
def signer(fresh_url: str) -> Signer:
    return load_signer(Settings(database_url=fresh_url))


@pytest.fixture
def publish(fresh_store: Store, catalog: Catalog) -> Publish:
    """Append ``count`` events to ``tenant``, numbered on from those already there."""
    counts: dict[str, int] = {}

    def append(tenant: str, count: int) -> None:
        start = counts.get(tenant, 0)
        counts[tenant] = start + count
        events = [pca_event(tenant, n, id=f"evt-{n}") for n in range(start + 1, start + count + 1)]
        fresh_store.append(prepare(events, catalog))

    return append


def verified(folder: Path, url: str) -> str:
    """What ``kansa verify FOLDER`` says of a receiver's copy, after it said intact (exit 0)."""
    said = CliRunner().invoke(app, ["verify", str(folder), "--db", url])
    assert said.exit_code == 0, said.output
    return said.output
