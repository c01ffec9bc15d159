"""Ports for the servers the suite starts: below the ephemeral range (where outgoing
connections take their local ports), in this worker's slice, and free."""

from __future__ import annotations

import socket

import pytest

from tests.net import _ephemeral_start, _slice, free_port


def test_a_free_port_is_below_the_ephemeral_range_in_this_workers_slice_and_free() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(port < _ephemeral_start() and port in _slice() for port in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nothing holds it


def test_workers_have_slices_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    first = _slice()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    second = _slice()
    assert first.stop <= second.start and len(first) == len(second) > 1_000
