"""A real kansa server for browser tests and screenshots: uvicorn in a thread on a free
port, and Debian's chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from kansa.server.app import create_app
from kansa.settings import Settings
from tests.net import free_port

CHROMIUM = Path(os.environ.get("KANSA_TEST_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_VARIABLE = "KANSA_TEST_REQUIRE_BROWSER"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the browser tests, loudly, where Debian's chromium is missing — or fail where
    ``KANSA_TEST_REQUIRE_BROWSER=1`` (CI) says they must run."""
    if CHROMIUM.is_file():
        return
    message = (
        f"browser tests NOT RUN: {CHROMIUM} is missing (apt-get install chromium "
        f"fonts-noto-cjk); {REQUIRE_VARIABLE}=1 makes this a failure"
    )
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """``kansa serve`` in a thread; yields its base URL and stops it afterwards."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kansa-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
