"""Real receivers for the streaming tests, started by the tests themselves: an HTTP server
that checks Standard Webhooks signatures with the ``standardwebhooks`` package and can be made
to fail (or be down), and helpers that keep what arrived as files for ``kansa verify``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
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


Handle = Callable[[str, str, dict[str, str], bytes], tuple[int, bytes]]


@contextmanager
def http_receiver(handle: Handle) -> Iterator[int]:
    """An HTTP server on a free port answering every request with ``handle(method, path,
    headers, body)``; yields its port."""
    port = free_port()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, reply = handle(self.command, self.path, headers, body)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = _answer  # noqa: N815 - the names http.server calls

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class HecReceiver:
    """Answers as Splunk's HTTP Event Collector does, with indexer acknowledgement: an ackId
    per request, confirmed indexed on the second poll (never, while ``never_index``)."""

    token: str
    port: int = 0
    requests: list[list[dict[str, Any]]] = field(default_factory=list)
    polls: dict[int, int] = field(default_factory=dict)
    never_index: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        if headers.get("authorization") != f"Splunk {self.token}":
            return 401, b'{"text":"Invalid token","code":4}'
        if path == "/services/collector/health":
            return 200, b'{"text":"HEC is healthy","code":17}'
        if path == "/services/collector/ack":
            asked = orjson.loads(body)["acks"]
            with self.lock:
                for ack in asked:
                    self.polls[ack] = self.polls.get(ack, 0) + 1
                acks = {str(a): self.polls[a] >= 2 and not self.never_index for a in asked}
            return 200, orjson.dumps({"acks": acks})
        if path != "/services/collector/event":
            return 404, b'{"text":"Not found","code":404}'
        if "x-splunk-request-channel" not in headers:
            return 400, b'{"text":"Data channel is missing","code":10}'
        decoder, text, envelopes = json.JSONDecoder(), body.decode(), []
        at = 0
        while at < len(text):
            envelope, end = decoder.raw_decode(text, at)
            envelopes.append(envelope)
            at = end + (len(text) - end - len(text[end:].lstrip()))
        with self.lock:
            self.requests.append(envelopes)
            ack = len(self.requests)
        return 200, orjson.dumps({"text": "Success", "code": 0, "ackId": ack})


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP logs endpoint: each request decoded with opentelemetry-proto."""

    port: int = 0
    requests: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/logs"

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
        )

        if path != "/v1/logs" or headers.get("content-type") != "application/x-protobuf":
            return 415, b"{}"
        request = ExportLogsServiceRequest()
        request.ParseFromString(body)
        self.requests.append(request)
        return 200, b"{}"
