"""The streaming crash test: while 20,000 events of two tenants are published to ``kansa serve``,
the test kills it with SIGKILL three times (starting it again on the same database) and takes
the webhook receiver down for a while. Afterwards every event reached the receiver at least
once, in seq order per tenant; anything that arrived twice came under the id it had the first
time, with the same events; the receiver's copy verifies; and each tenant's own log records
the destination degraded and recovered.

What makes it a real check: a process killed between the receiver's answer and the cursor's
move sends that stretch again on restart, and a process killed after fixing a stretch but
before sending it must send exactly that stretch (the same id) — not a longer one that would
carry events under a second id. The outage lasts long enough for five failures in a row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from kansa.cli import app
from kansa.store import open_store
from kansa.streaming.destinations import webhook_secret
from tests.helpers import new_key, pca_event, wait_for
from tests.net import free_port
from tests.streaming.conftest import verified
from tests.streaming.receivers import WebhookReceiver, webhook_receiver

KANSA = str(Path(sys.executable).parent / "kansa")
TENANTS = ("crash-a", "crash-b")
TOTAL = int(os.environ.get("KANSA_TEST_STREAM_EVENTS", "20000"))
BATCH = 100
RATE = 1_000.0  # events a second: about 20 s of publishing
KILLS_AT = (0.2, 0.45, 0.7)  # share of the events published
OUTAGE_FROM = 0.25  # share of the events published when the receiver goes down
OUTAGE_SECONDS = 25.0  # long enough for five failures in a row (1+2+4+8 s of back-off)


class Server:
    """``kansa serve`` on one port and database, started again after each kill."""

    def __init__(self, url: str, port: int, log: Path) -> None:
        self.url, self.port, self.log = url, port, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.env = {
            "KANSA_PURGE_AT": "off",
            "KANSA_DELIVERY_LEASE_SECONDS": "3",
        }

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [KANSA, "serve", "--db", self.url, "--port", str(self.port), "--no-access-log"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
            )
        wait_for(self.up, timeout=30, what="kansa serve")

    def up(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        assert self.popen is not None and self.popen.poll() is None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(20)


def _publish(server: Server, key: str, published: list[int]) -> None:
    """Publish TOTAL events at RATE, in batches; a batch the server did not answer is sent
    again (its ids make that safe) until it is taken."""
    client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5)
    start = time.monotonic()
    for number in range(0, TOTAL, BATCH):
        tenant = TENANTS[(number // BATCH) % len(TENANTS)]
        events = [pca_event(tenant, n, id=f"evt-{n}") for n in range(number, number + BATCH)]
        while True:
            try:
                answer = client.post(
                    "/api/v1/events",
                    json={"events": events},
                    headers={"Authorization": f"Bearer {key}"},
                )
                if answer.status_code in (200, 201):  # 200: every event was taken before
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        published.append(number + BATCH)
        time.sleep(max(0.0, start + (number + BATCH) / RATE - time.monotonic()))
    client.close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver(webhook_secret()) as started:
        yield started


@pytest.mark.slow
@pytest.mark.chaos
@pytest.mark.timeout(300)
def test_killed_server_and_a_receiver_down_lose_nothing(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    url = f"sqlite:///{tmp_path / 'kansa.db'}"
    store = open_store(url)
    store.migrate()
    key = new_key(store)
    store.close()
    spec = tmp_path / "siem.json"
    spec.write_bytes(
        orjson.dumps(
            {
                "name": "siem",
                "kind": "webhook",
                "start": "beginning",
                "config": {"url": receiver.url, "timeout": 2, "batch_size": 300},
                "secret": receiver.secret,
            }
        )
    )
    added = CliRunner().invoke(app, ["destination", "add", str(spec), "--db", url])
    assert added.exit_code == 0, added.output
    server = Server(url, free_port(), tmp_path / "serve.log")
    server.start()
    published: list[int] = []
    publisher = threading.Thread(target=_publish, args=(server, key, published))
    publisher.start()
    kills = list(KILLS_AT)
    outage: float | None = None
    try:
        while publisher.is_alive() or receiver.fail:
            done = (published[-1] if published else 0) / TOTAL
            if outage is None and done >= OUTAGE_FROM:
                outage = time.monotonic()
            receiver.fail = outage is not None and time.monotonic() - outage < OUTAGE_SECONDS
            if kills and done >= kills[0]:
                kills.pop(0)
                server.kill()
                time.sleep(0.5)
                server.start()
            time.sleep(0.05)
        receiver.fail = False
        publisher.join()
        assert not kills, "the publisher finished before every kill"
        wait_for(lambda: _caught_up(url), timeout=120, what="delivery to catch up")
    finally:
        receiver.fail = False
        server.stop()
    _check(receiver, url, tmp_path)


def _caught_up(url: str) -> bool:
    store = open_store(url)
    try:
        (destination,) = store.list_destinations()
        cursors = store.cursors(destination.id)
        heads = {t.id: t.last_seq for t in store.list_tenants()}
        return len(cursors) == len(TENANTS) and all(
            c.delivered_seq == heads[c.tenant] for c in cursors
        )
    finally:
        store.close()


def _check(receiver: WebhookReceiver, url: str, tmp_path: Path) -> None:
    store = open_store(url)
    try:
        heads = {t.id: t.last_seq for t in store.list_tenants()}
        own = {
            tenant: [
                x.columns["action"] for x in store.chain(tenant) if x.columns["app"] == "kansa"
            ]
            for tenant in TENANTS
        }
    finally:
        store.close()
    first: dict[str, list[int]] = {}
    repeated = 0
    for body in receiver.received:
        if body.id in first:
            repeated += 1
            assert body.seqs() == first[body.id], f"{body.id} came again with other events"
            continue
        first[body.id] = body.seqs()
    for tenant in TENANTS:
        taken = [s for r in receiver.received if r.proof["tenant"] == tenant for s in r.seqs()]
        once = list(dict.fromkeys(taken))
        assert once == list(range(1, heads[tenant] + 1)), f"{tenant}: not every event, in order"
        assert "stream.degraded" in own[tenant] and "stream.recovered" in own[tenant], own[tenant]
    assert sum(heads.values()) >= TOTAL
    print(
        f"\n{sum(heads.values())} events delivered, {len(first)} batches, {repeated} sent again,"
        f" {receiver.refused} refused during the outage"
    )
    folder = receiver.save(tmp_path / "received")
    verified(folder, url)
