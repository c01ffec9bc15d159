"""The benchmark's split of a server's CPU a request (bench/noise.py): the event loop's
thread apart from the process's other threads, and the database's own processes found by
the database they serve; and the connections each worker holds."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time

import psycopg

from bench.noise import CpuSplit, backends_of, connections_held
from tests import pg


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def _spent(text: str) -> dict[str, int]:
    return {
        name.strip(): int(value.replace(",", ""))
        for name, value in re.findall(r"([a-z ]+) ([\d,]+)", text.split(": ", 1)[1])
    }


def test_the_main_thread_other_threads_and_the_databases_processes_are_counted_apart(
    postgres_server: str,
) -> None:
    url = pg.create_database(postgres_server)
    name = url.rsplit("/", 1)[1]
    try:
        with psycopg.connect(url) as conn:
            (backend,) = backends_of(name)
            assert backend == conn.info.backend_pid
            split = CpuSplit([os.getpid()], [], lambda: backends_of(name))
            _burn(0.3)  # this thread: the "event loop" of a serving process
            helper = threading.Thread(target=_burn, args=(0.2,))
            helper.start()
            helper.join()
            conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
            spent = _spent(split.text(requests=2))
        assert spent["event loop"] >= 0.25 / 2 * 1e6
        assert 0.15 / 2 * 1e6 <= spent["other threads"] < 0.3 / 2 * 1e6
        assert spent["database"] >= 0.05 / 2 * 1e6
        assert "writer processes" not in spent  # none started
        # the server's process ends a moment after its client closes the connection
        deadline = time.monotonic() + 10
        while backends_of(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backends_of(name) == []
    finally:
        pg.drop_database(postgres_server, url)


def test_each_listening_process_is_counted_the_connections_it_holds() -> None:
    """With workers sharing one listening socket, the kernel gives each connection to the
    worker that accepts it: the benchmark reports how many each worker holds."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys\n"
            "listener = socket.socket(fileno=int(sys.argv[1]))\n"
            "held = [listener.accept()[0] for _ in range(2)]\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
            str(listener.fileno()),
        ],
        pass_fds=(listener.fileno(),),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    clients = []
    try:
        clients += [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        assert worker.stdout is not None and worker.stdout.readline() == "held\n"
        clients += [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        accepted = [listener.accept()[0] for _ in range(3)]
        clients += accepted
        bystander = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
        try:
            held = connections_held(port, [os.getpid(), worker.pid, bystander.pid])
        finally:
            bystander.communicate(b"\n")
        assert held == [3, 2]  # the bystander does not listen on the port: left out
    finally:
        for sock in clients:
            sock.close()
        worker.communicate("")
        listener.close()
