"""kansa as an operator runs it: `kansa serve` in its own process, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import pca_event

KANSA = str(Path(sys.executable).parent / "kansa")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KANSA, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    db = f"sqlite:///{tmp_path / 'served.db'}"
    assert run("init", "--db", db).returncode == 0
    key = json.loads(run("apikey", "create", "--app", "PCA Hub", "--json", "--db", db).stdout)
    port = free_port()
    server = subprocess.Popen(
        [KANSA, "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "kansa serve did not come up"
            time.sleep(0.1)
        yield base, key["key"], db
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        if server.stderr:
            server.stderr.close()


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
    port = free_port()
    server = subprocess.Popen(
        [KANSA, "serve", "--db", db, "--port", str(port), "--access-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    base, secret = f"http://127.0.0.1:{port}", "vt-SECRET-0123456789abcdef"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "no kansa serve"
            time.sleep(0.1)
        httpx.get(f"{base}/console/enter", params={"token": secret, "lang": "en"}, timeout=5)
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=10)
    logged = (out + err).decode()
    assert "/console/enter?token=[redacted]&lang=en" in logged, logged
    assert secret not in logged
