"""kansa as an operator runs it: `kansa serve` in its own process, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kansa.server.accesslog import redact
from kansa.server.writer_process import CHILD
from tests.helpers import pca_event
from tests.served import KANSA, serve


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KANSA, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    db = f"sqlite:///{tmp_path / 'served.db'}"
    assert run("init", "--db", db).returncode == 0
    key = json.loads(run("apikey", "create", "--app", "PCA Hub", "--json", "--db", db).stdout)
    with serve(db, tmp_path, {}) as server:
        yield server.base, key["key"], db


@pytest.mark.slow
def test_a_served_kansa_stores_durably_and_verifies(served: tuple[str, str, str]) -> None:
    base, key, db = served
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        single = http.post("/api/v1/events", json=pca_event("org-serve", 1))
        assert single.status_code == 201
        batch = http.post(
            "/api/v1/events", json={"events": [pca_event("org-serve", n) for n in range(1, 51)]}
        )
        assert batch.status_code == 201
        assert (batch.json()["accepted"], batch.json()["duplicates"]) == (49, 1)
        assert http.post("/api/v1/events", json={"events": [{"tenant": "x"}]}).status_code == 422
        assert http.get("/docs").status_code == 200
    # The replies came after the commit: another process sees every event at once.
    verify = run("verify", "--db", db)
    assert verify.returncode == 0 and "org-serve: 50 events" in verify.stdout


@pytest.mark.slow
def test_the_access_log_never_holds_a_viewer_token(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'logged.db'}"
    assert run("init", "--db", db).returncode == 0
    secret = "vt-SECRET-0123456789abcdef"
    with serve(db, tmp_path, {}, ["--access-log"]) as server:
        params = {"token": secret, "lang": "en"}
        httpx.get(f"{server.base}/console/enter", params=params, timeout=5)
    logged = server.stderr.read_text(errors="replace")
    assert "/console/enter?token=[redacted]&lang=en" in logged, logged
    assert secret not in logged


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/console/enter?token=abc&lang=en", "/console/enter?token=[redacted]&lang=en"),
        ("/console/enter?%74oken=abc", "/console/enter?%74oken=[redacted]"),
        ("/x?lang=en&%54OKEN=s;csrf=c", "/x?lang=en&%54OKEN=[redacted];csrf=[redacted]"),
        ("/x?api%5Fkey=k&+password=p", "/x?api%5Fkey=[redacted]&+password=[redacted]"),
        ("/x?tokens=1&token_type=x", "/x?tokens=1&token_type=x"),
        ("/token=1/key=2", "/token=1/key=2"),
    ],
)
def test_credentials_are_redacted_however_their_names_are_spelled(path: str, logged: str) -> None:
    assert redact(path) == logged


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.slow
def test_ctrl_c_ends_kansa_serve_and_its_writer_process_after_the_last_commit(
    tmp_path: Path,
) -> None:
    """The writer's commits are made by a child process; Ctrl-C reaches the whole process
    group, the child waits for the server to close it, and nothing is left running."""
    db = f"sqlite:///{tmp_path / 'served.db'}"
    assert run("init", "--db", db).returncode == 0
    key = json.loads(run("apikey", "create", "--app", "PCA Hub", "--json", "--db", db).stdout)
    with serve(db, tmp_path, {}, own_group=True) as server:
        (writer,) = _children(server.process.pid)  # the writer process, and nothing else
        assert CHILD.encode() in Path(f"/proc/{writer}/cmdline").read_bytes()
        headers = {"Authorization": f"Bearer {key['key']}"}
        with httpx.Client(base_url=server.base, headers=headers, timeout=10) as http:
            for n in range(1, 21):
                assert http.post("/api/v1/events", json=pca_event("org-c", n)).status_code == 201
        os.killpg(server.process.pid, signal.SIGINT)
        assert server.process.wait(timeout=30) == 0, server.stderr.read_text(errors="replace")
    deadline = time.monotonic() + 10
    while Path(f"/proc/{writer}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{writer}").exists()
    verify = run("verify", "--db", db)
    assert verify.returncode == 0 and "org-c: 20 events" in verify.stdout
