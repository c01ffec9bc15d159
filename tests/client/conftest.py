"""A real kansa over real HTTP for the client's tests: the app under uvicorn in a thread, on
a free port, on each engine of ``store_url``; and a gate — a small HTTP server on
127.0.0.1 in front of it that answers what a test scripts (503, 429, a dropped connection)
before it passes requests through."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
import uvicorn

from kansa.server.app import create_app
from kansa.settings import Settings
from kansa.store import Store
from tests.client.gate import Gate, handler
from tests.helpers import new_key, wait_for
from tests.net import free_port


@pytest.fixture(scope="module")
def kansa_url(store_url: str) -> Iterator[str]:
    """kansa served on 127.0.0.1 over HTTP, on the engine of ``store_url``."""
    port = free_port()
    app = create_app(Settings(database_url=store_url))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="kansa-test-server", daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20, "kansa to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


@pytest.fixture
def key(store: Store) -> str:
    return new_key(store, scopes=frozenset({"publish"}))


@pytest.fixture
def gate(kansa_url: str) -> Iterator[Gate]:
    state = Gate(kansa_url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="gate", daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(10)
