"""``kansa serve --workers 2``: two processes serve one socket; what both stored lands in one
chain per tenant that verifies; the metrics of both are added up on the metrics port; the
background jobs run in the supervising process only."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest

from kansa.store import open_store
from tests import pg
from tests.helpers import new_key, pca_event
from tests.net import free_port
from tests.served import KANSA, serve

pytestmark = pytest.mark.slow


def test_two_workers_keep_one_chain(
    store_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    metrics_port = free_port()
    with pg.fresh_database(store_url, request, tmp_path, "workers") as url:
        store = open_store(url)
        key = new_key(store, tenant=None)
        store.close()
        args = ["--workers", "2", "--metrics-address", f"127.0.0.1:{metrics_port}"]
        with serve(url, tmp_path, {"KANSA_CHECKPOINT_EVERY_EVENTS": "10"}, args) as served:
            auth = {"Authorization": f"Bearer {key}"}
            for n in range(60):  # a new connection each: the kernel hands them to both workers
                with httpx.Client(base_url=served.base, timeout=10) as http:
                    event = pca_event("org-workers", n)
                    assert http.post("/api/v1/events", json=event, headers=auth).status_code == 201
            metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            writers = _writers_under(served.process.pid)
            lines = [orjson.loads(line) for line in _json_lines(served.stderr)]
        verify = subprocess.run(
            [KANSA, "verify", "--db", url], capture_output=True, text=True, timeout=60
        )
    publishers = {line["pid"] for line in lines if line.get("route") == "/api/v1/events"}
    assert len(publishers) == 2, "both workers served requests"
    assert verify.returncode == 0 and "org-workers: 60 events" in verify.stdout, verify.stdout
    assert "kansa_events_accepted_total 60.0" in metrics
    assert 'kansa_chain_head_seq{tenant="org-workers"} 60.0' in metrics
    jobs = {line["pid"] for line in lines if line.get("logger") == "kansa.jobs"}
    assert not jobs & publishers, "the jobs never run in a worker"
    # one writer process, the supervisor's, commits for both workers: none of their own
    assert writers == [(served.process.pid, "kansa.server.writer_hub")], writers


def _writers_under(top: int) -> list[tuple[int, str]]:
    """(parent, module) of each writer process among ``top``'s descendants."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                commands[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().decode(errors="replace")
                )
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])

    def under(pid: int) -> bool:
        while pid in parents and pid != top:
            pid = parents[pid]
        return pid == top

    found = []
    for pid, command in commands.items():
        for module in ("kansa.server.writer_hub", "kansa.server.writer_process"):
            if f"from {module} import main" in command and pid != top and under(pid):
                found.append((parents[pid], module))
    return found


def _json_lines(path: Path) -> list[bytes]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and b"Finished server process" not in path.read_bytes():
        time.sleep(0.1)
    return [line for line in path.read_bytes().splitlines() if line.startswith(b"{")]
