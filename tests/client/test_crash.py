"""The crash test: a publisher process sends 20,000 events through the client while the test
kills ``kansa serve`` with SIGKILL four times (restarting it on the same database and port)
and kills the publisher itself once, in the middle of an outage, with events only in its
spool. Afterwards every event is stored exactly once and ``kansa verify`` passes.

What makes "exactly once" a real check: the killed publisher's unsent events exist nowhere
but in the spool (the server is down), so losing the spool or not resending it loses them;
the restarted publisher resumes from its last checkpoint and publishes some events a second
time, and a server killed while it commits a batch may have stored events whose receipt
never arrived, so without client ids some would be stored twice.
Figures are printed (run with ``-s``); docs/reliability.md quotes them."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.helpers import stored_ids
from tests.net import free_port

KANSA = str(Path(sys.executable).parent / "kansa")
PUBLISHER = Path(__file__).with_name("crash_publisher.py")
TOTAL = int(os.environ.get("KANSA_TEST_CRASH_EVENTS", "10000"))  # make chaos: 20,000
RATE = 1_000.0  # events a second: about 10 s of publishing in the suite
SERVER_KILLS_AT = (0.1, 0.3, 0.5, 0.75)  # share of the events published
CLIENT_KILL_AT = 0.5  # during this outage
DEADLINE = 100.0  # seconds for the whole run, kills included


def kansa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KANSA, *args], capture_output=True, text=True, timeout=60)


class Process:
    """A child process of this test, started again and again; only ever this one is killed."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.command, self.log = command, log
        self.popen: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    def start(self) -> None:
        self._out = open(self.log, "ab")  # closed in stop() and kill()
        self.popen = subprocess.Popen(self.command, stdout=self._out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.popen is not None and self.popen.poll() is None, self.tail()
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        self._close()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._close()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def until(check: Any, deadline: float, what: str, *processes: Process) -> None:
    while not check():
        for process in processes:
            assert process.popen is not None and process.popen.poll() is None, (
                f"{process.command[1]} ended while waiting for {what}:\n{process.tail()}"
            )
        assert time.monotonic() < deadline, f"out of time waiting for {what}"
        time.sleep(0.05)


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def read_stats(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def published(stats_file: Path, at_least: float) -> Callable[[], bool]:
    return lambda: bool(read_stats(stats_file).get("index", 0) >= at_least)


def spooled_ids(spool: Path) -> list[str]:
    conn = sqlite3.connect(spool)
    try:
        return [str(row[0]) for row in conn.execute("SELECT id FROM pending ORDER BY seq")]
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_every_event_is_stored_exactly_once_through_server_and_client_kills(
    fresh_url: str, tmp_path: Path
) -> None:
    assert kansa("init", "--db", fresh_url).returncode == 0
    created = kansa("apikey", "create", "--app", "PCA Hub", "--json", "--db", fresh_url)
    key = json.loads(created.stdout)["key"]
    port, tenant = free_port(), f"t-crash-{uuid.uuid4().hex[:8]}"
    base, spool, state = f"http://127.0.0.1:{port}", tmp_path / "spool.db", tmp_path / "state"
    server = Process(
        [KANSA, "serve", "--db", fresh_url, "--port", str(port)], tmp_path / "server.log"
    )
    publisher = Process(
        [sys.executable, str(PUBLISHER), base, key, str(spool), tenant, str(TOTAL), str(RATE)]
        + [str(state)],
        tmp_path / "publisher.log",
    )
    stats_file = Path(f"{state}.stats")
    rng = random.Random(20261121)
    started = time.monotonic()
    deadline = started + DEADLINE
    server_kills, at_client_kill = 0, {}
    try:
        server.start()
        until(lambda: healthy(base), deadline, "kansa serve", server)
        publisher.start()
        for share in SERVER_KILLS_AT:
            until(published(stats_file, share * TOTAL), deadline, f"{share:.0%}", publisher)
            time.sleep(rng.uniform(0, 0.1))  # land anywhere in a request
            server.kill()
            server_kills += 1
            time.sleep(rng.uniform(0.6, 1.2))  # the outage: events pile up in the spool
            if share == CLIENT_KILL_AT:
                at_client_kill = read_stats(stats_file)
                publisher.kill()
                at_client_kill["spooled"] = spooled_ids(spool)
                publisher.start()
            server.start()
            until(lambda: healthy(base), deadline, "kansa serve to come back", server)
        until(lambda: read_stats(stats_file).get("done"), deadline, "the last receipt", publisher)
        assert publisher.popen is not None and publisher.popen.wait(15) == 0, publisher.tail()
        seconds = time.monotonic() - started
    finally:
        publisher.stop()
        server.stop()

    final = read_stats(stats_file)
    stored = stored_ids(fresh_url, tenant)
    expected = [f"crash-{i:06d}" for i in range(TOTAL)]
    assert len(stored) == TOTAL, f"{len(stored)} stored"
    assert stored == expected, "every event, exactly once"
    verified = kansa("verify", "--db", fresh_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # The restarted publisher found the killed one's events in the spool, and sent them.
    spooled = at_client_kill["spooled"]
    assert spooled and final["pending_at_start"] == len(spooled)
    last_published = max(int(i.removeprefix("crash-")) for i in spooled)
    republished = last_published + 1 - final["start"]
    assert republished >= 0 and final["duplicates"] >= republished
    figures = {
        "engine": fresh_url.split(":")[0],
        "events": TOTAL,
        "server_kills": server_kills,
        "client_kills": 1,
        "seconds": round(seconds, 1),
        "spooled_at_client_kill": len(spooled),
        "republished_after_client_restart": republished,
        "duplicates_absorbed": at_client_kill.get("duplicates", 0) + final["duplicates"],
        "resent": at_client_kill.get("resent", 0) + final["resent"],
        "retried_requests": at_client_kill.get("retries", 0) + final["retries"],
    }
    print(f"\ncrash test: {json.dumps(figures)}")
