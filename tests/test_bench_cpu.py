"""The benchmark's split of a server's CPU a request (bench/noise.py): the event loop's
thread apart from the process's other threads, and the database's own processes found by
the database they serve."""

from __future__ import annotations

import os
import re
import threading
import time

import psycopg

from bench.noise import CpuSplit, backends_of
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
