"""Real receivers for the streaming tests, started by the tests themselves: an HTTP server
that checks Standard Webhooks signatures with the ``standardwebhooks`` package and can be made
to fail (or be down), and helpers that keep what arrived as files for ``kansa verify``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from standardwebhooks import Webhook

from tests.net import free_port


@dataclass
class Received:
    id: str
    body: bytes

    @property
    def proof(self) -> dict[str, Any]:
        batch: dict[str, Any] = orjson.loads(self.body.split(b"\n", 1)[0])["batch"]
        return batch

    def seqs(self) -> list[int]:
        return [
            orjson.loads(line)["seq"]
            for line in self.body.splitlines()[1:]
            if line.startswith(b'{"event"')
        ]


@dataclass
class WebhookReceiver:
    secret: str
    port: int = field(default_factory=free_port)
    fail: bool = False
    """While True, every delivery is refused (503)."""
    lose_answers: bool = False
    """While True, every delivery is taken but answered 503, as if the answer were lost."""
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    tests: int = 0
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        try:
            Webhook(self.secret).verify(body, headers, json_parse=False)
        except Exception:  # noqa: BLE001 - the package raises its own error type
            with self.lock:
                self.bad_signatures += 1
            return 400
        with self.lock:
            if body.startswith(b'{"test":'):
                self.tests += 1
                return 204
            if self.fail:
                self.refused += 1
                return 503
            self.received.append(Received(headers["webhook-id"], body))
            return 503 if self.lose_answers else 204

    def ids(self) -> list[str]:
        with self.lock:
            return [r.id for r in self.received]

    def seqs(self, tenant: str) -> list[int]:
        with self.lock:
            return [s for r in self.received if r.proof["tenant"] == tenant for s in r.seqs()]

    def save(self, folder: Path) -> Path:
        """Every body received, one file each, as a receiver would keep them."""
        folder.mkdir(parents=True, exist_ok=True)
        with self.lock:
            for number, received in enumerate(self.received):
                (folder / f"{number:06d}.jsonl").write_bytes(received.body)
        return folder


@contextmanager
def webhook_receiver(secret: str) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
