"""Shared fixtures. Every storage and API test takes ``store_url`` (or a fixture built on it)
and so runs once per engine in ENGINES; each test works in a fresh tenant of its own instead
of truncating tables."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kansa.catalog import Catalog, default_catalog_paths, load_catalog
from kansa.catalog.layout import Layout, default_layout_paths, load_layouts
from kansa.catalog.screens import Screen, default_screen_paths, load_screens
from kansa.integrity.keyfile import ensure_signing_key
from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from kansa.store import Store, open_store
from tests import pg
from tests.helpers import new_key

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One signing key for the session, named by KANSA_SIGNING_KEY_FILE so that every
    Settings() — here and in the kansa processes tests start — finds it, and no test writes
    a key into the working directory."""
    path = tmp_path_factory.mktemp("keys") / "kansa-signing.key"
    ensure_signing_key(Settings(database_url="sqlite:///:memory:", signing_key_file=path))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KANSA_SIGNING_KEY_FILE", str(path))
        yield path


KEY_SHAPE = re.compile(r"kansa_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")
"""What any kansa API key looks like (kansa/access/keys.py), whichever test made it."""
KNOWN_PASSWORDS = ("console-test-password", "correct horse battery staple")


class _SecretWatch(logging.Handler):
    """Keeps every log record of the session that holds a key or a known password."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format holds nothing to find
            return
        if KEY_SHAPE.search(text) or any(p in text for p in KNOWN_PASSWORDS):
            self.leaks.append(f"{record.name}: {text[:200]}")


@pytest.fixture(scope="session", autouse=True)
def secrets_stay_out_of_logs() -> Iterator[None]:
    """Every log record of the whole suite, at whatever level a test lets through, is
    searched for API keys and the suite's passwords; one found fails the session."""
    watch = _SecretWatch()
    root = logging.getLogger()
    root.addHandler(watch)
    try:
        yield
    finally:
        root.removeHandler(watch)
    assert watch.leaks == [], "secrets in log records"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(default_catalog_paths())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the session (see tests/pg.py); skips loudly where there is none."""
    try:
        url, stop = pg.start_server()
    except pg.Unavailable as exc:
        reason = str(exc)
    else:
        yield url
        stop()
        return
    pg.unavailable(reason)


@pytest.fixture(scope="session", params=ENGINES)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One database per engine for the whole session, migrated."""
    engine = request.param
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'kansa.db'}"
    elif engine == "postgresql":
        server = request.getfixturevalue("postgres_server")
        url = pg.create_database(server)
        request.addfinalizer(lambda: pg.drop_database(server, url))
    else:  # pragma: no cover - engines are added beside their store
        raise AssertionError(f"no fixture for engine {engine}")
    store = open_store(url)
    store.migrate()
    store.close()
    return url


@pytest.fixture
def fresh_url(store_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, migrated database of ``store_url``'s engine, for a test that works on every
    tenant of its database (background jobs, purges that drop partitions)."""
    with pg.fresh_database(store_url, request, tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def tenant_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(store_url: str) -> Settings:
    """The settings of the runtime the API tests share. Its writer commits in a thread:
    a writer process costs ~0.3 s to start, once per test. The writer process is tested in
    tests/test_writer.py, and every test that starts ``kansa serve`` runs with it."""
    return Settings(database_url=store_url, writer_process=False)


@pytest.fixture(scope="session")
def shipped(catalog: Catalog) -> tuple[dict[str, Layout], dict[str, Screen]]:
    """The layouts and screens kansa ships, read once for the session as ``catalog`` is: a
    runtime of its own reads all three again (~60 ms of CPU), and most API tests make one."""
    layouts = load_layouts(default_layout_paths())
    return layouts, load_screens(default_screen_paths(), layouts)


@pytest.fixture
def runtime(
    settings: Settings, catalog: Catalog, shipped: tuple[dict[str, Layout], dict[str, Screen]]
) -> Iterator[Runtime]:
    """What ``Runtime.from_settings(settings)`` makes, with the shipped files read once
    (an operator's own files, named in the settings, are read as kansa reads them)."""
    if settings.catalogs or settings.layouts or settings.screens:
        rt = Runtime.from_settings(settings)
    else:
        layouts, screens = shipped
        store = open_store(settings.database_url, settings.read_database_url)
        rt = Runtime(settings, store, catalog, layouts=layouts, screens=screens)
    rt.start()
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime)) as test_client:
        yield test_client


@pytest.fixture
def api_key(store: Store) -> str:
    """A publish+read key of the PCA Hub application, bound to no tenant."""
    return new_key(store)


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos", action="store_true", help="run the long crash runs too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long crash runs (marked ``chaos``) only with ``--chaos`` (``make chaos``): the
    suite stays within its time."""
    if config.getoption("--chaos"):
        return
    later = pytest.mark.skip(reason="a long crash run: make chaos")
    for item in items:
        if "chaos" in item.keywords:
            item.add_marker(later)
