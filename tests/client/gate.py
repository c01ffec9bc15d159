"""The gate: a small HTTP server on 127.0.0.1 in front of a real kansa that answers what a
test scripts (503, 429, a dropped connection) before it passes requests through."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx


@dataclass
class Seen:
    """One request the gate received: how many events, and what it answered."""

    events: int
    status: int
    at: float


@dataclass
class Gate:
    """What the gate will answer next, and what it saw."""

    upstream: str
    url: str = ""
    script: deque[str] = field(default_factory=deque)
    """Next answers, one per request: "503", "429" (Retry-After: 1), "reset" (close the
    connection without a reply); when empty, pass the request through."""
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    poison: bytes | None = None
    """A request whose body holds these bytes is answered with a bare 500, every time."""

    def answer(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            action = self.script.popleft() if self.script else "pass"
        if self.poison is not None and self.poison in body:
            return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"
        if action == "reset":
            return 0, {}, b""
        if action in ("503", "429"):
            extra = {"Retry-After": "1"} if action == "429" else {}
            problem = json.dumps({"status": int(action), "title": "not now", "problems": []})
            return (
                int(action),
                {"Content-Type": "application/problem+json", **extra},
                problem.encode(),
            )
        reply = httpx.post(
            f"{self.upstream}/api/v1/events", content=body, headers=headers, timeout=30
        )
        kind = reply.headers.get("content-type", "application/json")
        return reply.status_code, {"Content-Type": kind}, reply.content

    def sizes(self) -> list[int]:
        with self.lock:
            return [s.events for s in self.seen]


def handler(gate: Gate) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            forwarded = {k: v for k, v in self.headers.items() if k.lower() in _FORWARD}
            status, headers, content = gate.answer(body, forwarded)
            try:
                count = len(json.loads(body)["events"])
            except (ValueError, KeyError, TypeError):
                count = -1
            with gate.lock:
                gate.seen.append(Seen(count, status, time.monotonic()))
            if status == 0:
                self.close_connection = True
                return
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


_FORWARD = {"authorization", "content-type"}
