"""A real ``kansa serve`` process on a fresh database of either engine, for the tests of what
happens at the edge: sockets, proxy headers, limits, what the server writes to stderr.

Clients may connect from any loopback address (``127.0.0.2`` …), so one server can see a
trusted proxy and an untrusted peer, and each test can have a client address of its own."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.net import free_port

KANSA = str(Path(sys.executable).parent / "kansa")


BODY_LIMIT = 64 * 1024
EDGE_ENV = {
    "KANSA_TRUSTED_PROXIES": "127.0.0.2, 10.9.0.0/16",
    "KANSA_MAX_BODY_BYTES": str(BODY_LIMIT),
    "KANSA_RATE_LIMIT_PER_SECOND": "1",
    "KANSA_RATE_LIMIT_BURST": "5",
    "KANSA_SIGNIN_IP_MAX_FAILURES": "3",
}


@dataclass(frozen=True)
class Served:
    base: str
    port: int
    url: str
    """The database the server runs on."""
    stderr: Path
    process: subprocess.Popen[bytes]
    """``kansa serve`` itself."""

    def client(self, source: str = "127.0.0.1", **options: object) -> httpx.Client:
        """An HTTP client whose connections come from ``source``."""
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(base_url=self.base, transport=transport, timeout=10, **options)  # type: ignore[arg-type]


@contextmanager
def serve(
    url: str,
    workdir: Path,
    env: Mapping[str, str],
    args: Iterable[str] = (),
    *,
    own_group: bool = False,
) -> Iterator[Served]:
    """``kansa serve --db url [args]`` with extra ``env`` (without ``--db`` when ``env`` names
    KANSA_DATABASE_URL_FILE); stops it afterwards (if it still runs). What it writes
    (stdout and stderr) is kept in a file for the tests that read what it logged.
    ``own_group``: in a process group of its own, as a terminal starts it."""
    port = free_port()
    stderr = workdir / f"serve-{port}.stderr"
    where = () if "KANSA_DATABASE_URL_FILE" in env else ("--db", url)  # the URL from its file
    with stderr.open("wb") as sink:
        server = subprocess.Popen(
            [KANSA, "serve", *where, "--port", str(port), *args],
            stdout=sink,
            stderr=sink,
            env={**os.environ, "KANSA_PURGE_AT": "off", **env},
            cwd=workdir,
            start_new_session=own_group,
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
            assert server.poll() is None, stderr.read_text(errors="replace")
            assert time.monotonic() < deadline, "kansa serve did not come up"
            time.sleep(0.05)
        yield Served(base, port, url, stderr, server)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def raw_request(
    served: Served,
    head: str,
    chunks: Iterable[bytes] = (),
    *,
    source: str = "127.0.0.1",
) -> tuple[int, bytes, int]:
    """Send ``head`` (request line and headers) and then ``chunks`` over a plain socket,
    stopping as soon as the server answers. The status, the answer as read, and how many body
    bytes were sent before it came."""
    sent = 0
    answer = b""
    address = ("127.0.0.1", served.port)
    with socket.create_connection(address, timeout=2, source_address=(source, 0)) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered (or closed) while the body was on its way
            try:
                sock.sendall(chunk)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break  # the server stopped reading
            sent += len(chunk)
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            answer += data
    match = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    assert match is not None, f"no HTTP answer: {answer[:200]!r}"
    return int(match.group(1)), answer, sent


@pytest.fixture(scope="module")
def edge(
    store_url: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``kansa serve`` with small limits on a fresh database of ``store_url``'s engine."""
    workdir = tmp_path_factory.mktemp("edge")
    with pg.fresh_database(store_url, request, workdir, "edge") as url:
        with serve(url, workdir, EDGE_ENV) as served:
            yield served
