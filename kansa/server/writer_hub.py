"""One writer process for all the workers of ``kansa serve --workers N``.

With a writer process of its own, each worker would commit apart, and two workers appending
to one tenant would take turns on its row in the database: measured on PostgreSQL, half of
what one worker stores (docs/benchmarks.md, "Two workers on PostgreSQL"). Instead the
supervising process starts one hub (:class:`Hub`), and each worker's
:class:`~kansa.server.writer_process.ProcessWriter` sends its requests to it over a Unix
socket, as it would to a child of its own (the same messages, the same answers). The hub
commits, in one transaction, every request any worker sent while it committed the last
(:func:`~kansa.server.writer.commit_group`), and answers each worker its own, in the order
it sent them.

The socket lives in a directory of its own, readable by the owner alone (0700; the socket
0600). The database URL reaches the hub through a pipe, never its command line. If the hub
stops (killed, out of memory), each worker's requests it had not answered get a 503 (they may
or may not be stored; a retry with the same client ids is answered as a duplicate); the
supervisor starts a new one, and each worker's next request connects to it. Like a worker's
own writer process, the hub ignores SIGINT, commits what it was sent, and ends when the
supervisor tells it to, or when the supervisor is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from multiprocessing.connection import Connection, wait
from pathlib import Path

from kansa.errors import StoreError
from kansa.server import heap
from kansa.server.writer import commit_group
from kansa.server.writer_process import (
    STOP_SECONDS,
    WRITER_CACHE_MIB,
    Requests,
    child_ends,
    end_child,
    sendable,
    start_child,
)
from kansa.store import Store

SOCKET_NAME = "writer.sock"
BACKLOG = 64
RESTART_PAUSE = 0.5
"""Seconds between a hub's end and the start of the next; doubled after each start that
fails, up to :data:`RESTART_PAUSE_MOST`, so a hub that cannot start does not spin."""
RESTART_PAUSE_MOST = 8.0
CHILD = "from kansa.server.writer_hub import main; main()"
"""What the hub runs (``python -c``), the two ends of its control pipes as arguments."""


class Hub:
    """The hub, started by the supervising process: :attr:`path` is its socket. A hub that
    ends while this is open is started again."""

    def __init__(self, url: str, max_events: int) -> None:
        self._url = url
        self._max = max_events
        self._dir = Path(tempfile.mkdtemp(prefix="kansa-writer-"))  # 0700
        self.path = str(self._dir / SOCKET_NAME)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        try:
            self._process, self._control = self._start()
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self._watch = threading.Thread(target=self._restart, name="kansa-writer-hub", daemon=True)
        self._watch.start()

    @property
    def pid(self) -> int:
        with self._lock:
            return self._process.pid

    def close(self) -> None:
        """Tell the hub to stop once it has answered what it was sent; wait for it (killed if
        it does not end), and remove its directory."""
        self._closing.set()
        with self._lock:
            process, control = self._process, self._control
        _stop(process, control)
        self._watch.join(STOP_SECONDS)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _start(self) -> tuple[subprocess.Popen[bytes], Connection]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a stopped hub's
        process, control, ready_from = start_child(CHILD, (self._url, self._max, self.path))
        try:
            ready = ready_from.recv()
        except (EOFError, OSError):
            ready = StoreError("the writer hub ended as it started")
        finally:
            ready_from.close()
        if isinstance(ready, BaseException):
            _stop(process, control)
            raise ready
        return process, control

    def _restart(self) -> None:
        pause = RESTART_PAUSE
        while True:
            with self._lock:
                process = self._process
            process.wait()
            if self._closing.wait(pause):
                return
            try:
                started = self._start()
            except Exception:  # noqa: BLE001 - the database away: try again, less often
                pause = min(pause * 2, RESTART_PAUSE_MOST)
                continue
            pause = RESTART_PAUSE
            with self._lock:
                self._control.close()
                self._process, self._control = started
            if self._closing.is_set():  # closed while this one started
                _stop(*started)
                return


def _stop(process: subprocess.Popen[bytes], control: Connection) -> None:
    with contextlib.suppress(OSError):
        control.send(None)
    end_child(process)
    control.close()


def connect(path: str) -> Connection:
    """A worker's connection to the hub at ``path``, once the hub says it is ready
    (:class:`StoreError` when it does not answer)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise StoreError(f"the writer hub does not answer: {exc.strerror}") from None
    conn = Connection(sock.detach())
    try:
        ready = conn.recv()
    except (EOFError, OSError):
        conn.close()
        raise StoreError("the writer hub ended as it was reached") from None
    if ready is not None:
        conn.close()
        raise StoreError("the writer hub answered as it should not")
    return conn


def main() -> None:
    """The hub (:data:`CHILD`): its settings from the control pipe, then :func:`run`."""
    control, ready, settings = child_ends()
    if settings is None:
        return  # the supervisor is gone already
    url, max_events, path = settings
    run(url, max_events, path, control, ready)


def run(url: str, max_events: int, path: str, control: Connection, ready: Connection) -> None:
    """Open the store and the socket at ``path``, say so (or why not) on ``ready``, then
    until ``control`` says stop or closes: take every request the workers sent (up to
    ``max_events`` events), commit them together, and answer each worker its own."""
    from kansa.store import open_store

    try:
        store = open_store(url, sqlite_cache_mib=WRITER_CACHE_MIB)
        listener = _listen(path)
    except Exception as exc:  # noqa: BLE001 - handed to the supervisor, which raises it
        ready.send(sendable(exc))
        return
    heap.settle()
    ready.send(None)
    ready.close()
    workers: list[Connection] = []
    try:
        while True:
            waiting = wait([control, listener, *workers])
            if listener in waiting:
                _accept(listener, workers)
            _commit(store, max_events, [w for w in waiting if w in workers], workers)
            if control in waiting:  # told to stop, or the supervisor is gone
                _commit(store, max_events, [w for w in workers if w.poll()], workers)
                return  # what the workers send later finds the connection closed: a 503
    finally:
        for worker in workers:
            worker.close()
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
        store.close()


def _listen(path: str) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket file: 0600
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(BACKLOG)
    return listener


def _accept(listener: socket.socket, workers: list[Connection]) -> None:
    sock, _ = listener.accept()
    worker = Connection(sock.detach())
    try:
        worker.send(None)  # ready
    except OSError:
        worker.close()
        return
    workers.append(worker)


def _commit(
    store: Store, max_events: int, ready: list[Connection], workers: list[Connection]
) -> None:
    """Take what the ``ready`` workers sent, commit it in one group and answer each."""
    taken: Requests = []
    shares: list[tuple[Connection, int, int]] = []  # worker, its requests, its lists
    count = 0
    for worker in ready:
        requests = lists = 0
        while count < max_events and worker.poll():
            try:
                received: Requests | None = worker.recv()
            except (EOFError, OSError):
                received = None
            if received is None:  # the worker is closing, or gone
                workers.remove(worker)
                break
            taken += received
            requests += len(received)
            lists += 1
            count += sum(map(len, received))
        if lists:
            shares.append((worker, requests, lists))
        elif worker not in workers:
            worker.close()
    if not taken:
        return
    outcomes, shared = commit_group(store, taken)
    sent = [sendable(o) if isinstance(o, BaseException) else o for o in outcomes]
    start = 0
    for worker, requests, lists in shares:
        try:
            worker.send((sent[start : start + requests], shared, lists))
        except OSError:  # that worker is gone: the others are answered
            if worker in workers:
                workers.remove(worker)
        start += requests
        if worker not in workers:
            worker.close()
