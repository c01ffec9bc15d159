"""Ports for the servers tests start on loopback.

A port the kernel hands out for ``bind(0)`` lies in its ephemeral range, the range every
outgoing connection takes its local port from: between the test choosing it and its server
binding it, any connection the suite makes (to PostgreSQL, to another server) may take it,
and the server then fails with "address already in use". So the ports come from below that
range, where no outgoing connection goes, each worker of the suite (pytest-xdist) from a
slice of its own.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

LOWEST = 10_000
"""The lowest port handed out (well above the ports services are known by)."""
TRIES = 200


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _slice() -> range:
    """This worker's ports: the range below the ephemeral one, cut in as many slices as the
    suite has workers."""
    top = max(_ephemeral_start(), LOWEST + 1_000)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    number = int(worker) if worker.isdigit() else 0
    size = (top - LOWEST) // max(count, 1)
    start = LOWEST + size * (number % max(count, 1))
    return range(start, start + size)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral range
    (so no outgoing connection takes it before the server binds it)."""
    ports = _slice()
    for _ in range(TRIES):
        port = random.choice(ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1} after {TRIES} tries")
