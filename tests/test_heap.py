"""A serving process and a writer process set what they built to start aside from the cycle
collector (kansa.server.heap): each is run here in a process of its own, as ``kansa serve``
runs it, and asked afterwards what the collector holds. This test process never freezes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STARTUP_OBJECTS = 20_000
"""Fewer than a started process builds (~94,000 serving: modules, catalog, app; ~42,000 in
the writer process), more than a bare interpreter holds (~5,000)."""

SERVE_ONCE = """
import gc, json, sys
import uvicorn
from kansa.server.serving import serve
from kansa.settings import Settings

def run(app, **options):  # what uvicorn would serve, as it would be handed over
    print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}))

uvicorn.run = run
serve(Settings(database_url=sys.argv[1]), host="127.0.0.1", port=0)
"""

WORKER_APP = """
import gc, json
from kansa.server.serving import worker_app
worker_app()
print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}))
"""

WRITER = """
import gc, json, sys
from multiprocessing.connection import Pipe
from kansa.server.writer_process import commit_groups
requests, ask = Pipe(duplex=False)
answers, answer = Pipe(duplex=False)
ask.send(None)  # stop after opening the store
commit_groups(sys.argv[1], 100, requests, answer)
assert answers.recv() is None  # the store opened
print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}))
"""


def _run(code: str, url: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize(
    "code",
    [SERVE_ONCE, WORKER_APP, WRITER],
    ids=["kansa-serve-before-it-serves", "each-worker-of-kansa-serve", "the-writer-process"],
)
def test_a_process_that_keeps_its_app_freezes_what_it_built(code: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'heap.db'}"
    found = _run(code, url, {"KANSA_DATABASE_URL": url})  # the worker reads its environment
    assert isinstance(found["frozen"], int) and found["frozen"] > STARTUP_OBJECTS
    assert found["threshold"] == [10_000, 10, 10]
