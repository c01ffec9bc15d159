"""``python -m bench.stream`` (``make bench-stream``): streaming-out throughput — events a
second one kansa process delivers to a webhook and to NATS JetStream — beside the receiver's
own rate for the same payloads sent without kansa (the same batch documents, posted or
published back to back by one client). See docs/benchmarks.md.

The webhook receiver is a small threaded HTTP server in this process that reads each body and
answers 204; JetStream is the server at ``--nats`` (a stream is made and deleted)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import nats

from kansa.catalog import Catalog, default_catalog_paths, load_catalog
from kansa.events.prepare import prepare
from kansa.integrity.signing import Signer
from kansa.store import Store, open_store
from kansa.streaming import manage, stretch
from kansa.streaming.destinations import Filter, parse_spec, webhook_secret
from kansa.streaming.senders.webhook import CONTENT_TYPE
from kansa.streaming.worker import Deliverer
from kansa.timeutil import utcnow

TENANT = "bench-stream"


def _event(number: int) -> dict[str, Any]:
    return {
        "id": f"evt-{number}",
        "tenant": {"id": TENANT, "name": "bench"},
        "app": "PCA Hub",
        "action": "user.create",
        "occurred_at": "2026-11-21T10:00:00+09:00",
        "result": "success",
        "actor": {"id": "acc-1001", "name": "飯田橋 一郎", "login": "ichiro"},
        "ip": "12.34.56.78",
        "targets": [{"type": "user", "id": f"acc-{number}", "name": "飯田橋 二郎"}],
        "params": {"login": f"user{number}"},
    }


def _fill(store: Store, catalog: Catalog, events: int) -> None:
    for start in range(0, events, 2000):
        chunk = [_event(n) for n in range(start, min(events, start + 2000))]
        store.append(prepare(chunk, catalog))


def _documents(store: Store, signer: Signer, events: int, batch: int) -> list[bytes]:
    """The batch documents of the tenant's chain, as kansa sends them."""
    return [
        stretch.build(
            store,
            signer,
            destination="bench",
            tenant=TENANT,
            after=after,
            last=min(events, after + batch),
            filter=Filter(),
            now=utcnow(),
        ).document()
        for after in range(0, events, batch)
    ]


@contextmanager
def _receiver() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def _deliver(store: Store, catalog: Catalog, signer: Signer, spec: dict[str, Any]) -> float:
    """Seconds kansa takes to deliver the whole chain to ``spec``'s destination."""
    made = manage.add(store, signer, parse_spec(spec), TENANT, secret_given=False).destination
    worker = Deliverer(store, catalog, signer)
    started = time.perf_counter()
    try:
        while worker.run_once().batches:
            pass
    finally:
        worker.stop()
    took = time.perf_counter() - started
    manage.remove(store, made.id, None)
    return took


def _lag(store: Store, catalog: Catalog, signer: Signer, url: str, seconds: float) -> list[float]:
    """While events are appended at 1,000 a second (20 every 20 ms) for ``seconds``, the
    delivery lag sampled every 60 ms: seconds since the oldest event not yet delivered was
    received."""
    spec = {
        "name": "lag",
        "kind": "webhook",
        "start": "now",
        "secret": webhook_secret(),
        "config": {"url": url},
    }
    made = manage.add(store, signer, parse_spec(spec), TENANT, secret_given=False).destination
    worker = Deliverer(store, catalog, signer)
    worker.start()
    samples: list[float] = []
    number = 10_000_000
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            tick = time.monotonic()
            store.append(prepare([_event(n) for n in range(number, number + 20)], catalog))
            number += 20
            if (number // 20) % 3 == 0:
                samples += [c.lag_seconds(utcnow()) for c in store.cursors(made.id)]
            time.sleep(max(0.0, tick + 0.02 - time.monotonic()))
    finally:
        worker.stop()
    manage.remove(store, made.id, None)
    return sorted(samples)


def _post_all(url: str, documents: list[bytes]) -> float:
    with httpx.Client() as client:
        started = time.perf_counter()
        for body in documents:
            client.post(
                url, content=body, headers={"content-type": CONTENT_TYPE}
            ).raise_for_status()
        return time.perf_counter() - started


async def _publish_all(server: str, subject: str, documents: list[bytes]) -> float:
    client = await nats.connect(server)
    try:
        js = client.jetstream()
        started = time.perf_counter()
        for number, body in enumerate(documents):
            await js.publish(subject, body, headers={"Nats-Msg-Id": f"raw-{number}"})
        return time.perf_counter() - started
    finally:
        await client.close()


async def _stream(server: str, name: str, prefix: str, add: bool) -> None:
    client = await nats.connect(server)
    try:
        if add:
            await client.jetstream().add_stream(name=name, subjects=[f"{prefix}.>"])
        else:
            await client.jetstream().delete_stream(name)
    finally:
        await client.close()


def run(
    events: int, batch: int, nats_url: str | None, lag_seconds: float = 0.0
) -> list[tuple[str, float, float]]:
    catalog = load_catalog(default_catalog_paths())
    signer = Signer.generate()
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        store.migrate()
        _fill(store, catalog, events)
        documents = _documents(store, signer, events, batch)
        with _receiver() as url:
            own = _post_all(url, documents)
            spec = {
                "name": "bench",
                "kind": "webhook",
                "start": "beginning",
                "secret": webhook_secret(),
                "config": {"url": url, "batch_size": batch},
            }
            rows.append(("webhook", events / _deliver(store, catalog, signer, spec), events / own))
            if lag_seconds:
                lags = _lag(store, catalog, signer, url, lag_seconds)
                p99 = lags[int(len(lags) * 0.99) - 1] if lags else 0.0
                print(
                    f"webhook lag while ingest runs at 1,000 events/s for {lag_seconds:.0f} s: "
                    f"p50 {lags[len(lags) // 2]:.3f} s, p99 {p99:.3f} s, max {lags[-1]:.3f} s"
                )
        if nats_url:
            tag = uuid.uuid4().hex[:8]
            name, prefix = f"KANSA_BENCH_{tag}", f"kansa-bench-{tag}"
            asyncio.run(_stream(nats_url, name, prefix, True))
            try:
                own = asyncio.run(_publish_all(nats_url, f"{prefix}.raw", documents))
                spec = {
                    "name": "bench",
                    "kind": "nats",
                    "start": "beginning",
                    "config": {"url": nats_url, "subject_prefix": prefix, "batch_size": batch},
                }
                took = _deliver(store, catalog, signer, spec)
                rows.append(("NATS JetStream", events / took, events / own))
            finally:
                asyncio.run(_stream(nats_url, name, prefix, False))
        store.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stream", description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500, help="events per batch")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222", help="'' to skip JetStream")
    parser.add_argument(
        "--lag-seconds", type=float, default=10.0, help="seconds of the lag run (0: skip it)"
    )
    args = parser.parse_args(argv)
    rows = run(args.events, args.batch, args.nats or None, args.lag_seconds)
    print(f"streaming out: {args.events:,} events, batches of {args.batch}, SQLite, one process")
    print("| destination | kansa delivers (events/s) | receiver's own rate (events/s) |")
    print("|---|---:|---:|")
    for name, kansa_rate, own_rate in rows:
        print(f"| {name} | {kansa_rate:,.0f} | {own_rate:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
