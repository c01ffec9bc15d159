"""The writer with its appends in a process of its own.

The writer thread (:class:`~kansa.server.writer.Writer`) shares the interpreter lock with
the event loop. Under load the loop holds it most of the time, and each time the writer
comes back from the database it waits for its turn: measured on PostgreSQL with one event
per request, a commit of eight events took 6.4–6.8 ms inside ``kansa serve`` against 3.1–3.5
ms for the same append alone (docs/benchmarks.md). Here a child process that owns its own
connection to the database commits. The thread takes the queued requests and sends them on
to it; with ``at_once`` (PostgreSQL), a request small enough for one write the pipe keeps
whole is sent on by the caller (the event loop) as it is given, when the pipe has room and
nothing queued for the thread is ahead of it. Neither waits for the commit. The child
commits, in one
transaction, every request it was sent while it committed the last
(:func:`~kansa.server.writer.commit_group`, the same code as the thread's), so it goes from
one commit to the next without waiting for this process. A second thread here reads its
answers and answers each request, only after its commit, as before.

With ``kansa serve --workers N``, the workers share one such process instead
(:mod:`kansa.server.writer_hub`): ``connect`` reaches it over a Unix socket, and everything
else here is the same.

If the child stops (killed, out of memory), the requests it was sent and had not answered
get :class:`~kansa.errors.StoreUnavailable` (a 503: they may or may not have been stored,
and a retry with the same client id is answered as a duplicate), and the next request starts
a new child. The child is a plain ``python -c`` process (:data:`CHILD`), so no
``multiprocessing`` resource tracker runs beside it. It ignores SIGINT, which a terminal
sends the whole process group on Ctrl-C: it commits what it was sent and ends when the
writer closes it, or when this process is gone and its end of the pipe closes. SIGTERM ends
it at once, as it ends any process; a service manager stopping kansa signals the serving
process alone (deploy/kansa.service: ``KillMode=mixed``), which then closes the writer.
"""

from __future__ import annotations

import array
import collections
import fcntl
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from kansa.dburl import in_memory
from kansa.errors import StoreError, StoreUnavailable
from kansa.events.prepare import PreparedEvent
from kansa.server import heap
from kansa.server.metrics import Metrics
from kansa.server.writer import Outcome, Queued, Writer, commit_group
from kansa.settings import Settings
from kansa.store import Store

WRITER_CACHE_MIB = 32
"""SQLite: the writer process's page cache, half a serving connection's. Appending 100,000
events in batches of 100 to a copy of a store of a million took the same time with 32 MiB and
64 (4,914 / 5,047 against 4,953 / 5,042 events/s), and the process holds 32 MiB less."""

STOP_SECONDS = 30.0
"""How long closing waits for the child to end once told to, before it is killed."""

Requests = list[Sequence[PreparedEvent]]
Answer = tuple[list[Outcome], bool, int]
"""What the child sends after each commit: the outcome of each request it committed, whether
they were committed together, and how many of the lists of requests it was sent they were."""
Resolve = Callable[[Sequence[Queued], Sequence[Outcome], bool], None]


def wanted(settings: Settings) -> bool:
    """Whether ``settings`` ask for the writer in a process of its own: an in-memory SQLite
    database, one process's own, is always written in a thread."""
    return settings.writer_process and not in_memory(settings.database_url)


class ProcessWriter(Writer):
    """A :class:`~kansa.server.writer.Writer` whose commits are made by a child process on
    its own connection to ``url`` (``store`` is this process's, for what the writer reads)."""

    def __init__(
        self,
        store: Store,
        url: str,
        *,
        max_events: int = 5000,
        metrics: Metrics | None = None,
        at_once: bool = False,
        connect: Callable[[], Connection] | None = None,
    ) -> None:
        super().__init__(store, max_events=max_events, metrics=metrics)
        self._url = url
        self._at_once = at_once
        self._connect = connect
        """How to reach a writer process shared with other workers
        (:func:`kansa.server.writer_hub.connect`); None: start one of its own."""
        self._committer: _Committer | None = None
        self._order = threading.Lock()
        self._queued = 0
        """Requests handed to the thread and not yet sent on by it: while there are any, a
        request is queued behind them too, so the child takes them in the order given."""

    def start(self) -> None:
        with self._running:
            if self._started:
                return
            # a database that cannot be opened fails here, not at the first request
            self._committer = _Committer(self._url, self._max, self._resolve, self._connect)
        super().start()

    def close(self) -> None:
        super().close()  # the thread has sent on everything queued, then ended
        if self._committer is not None:
            self._committer.close()  # answered once committed
            self._committer = None

    @property
    def child_pid(self) -> int | None:
        """The committing process's id (None before the first start, once stopped, or when
        the workers share one: it is not this process's child)."""
        return self._committer.pid if self._committer is not None else None

    def _enqueue(self, item: Queued) -> None:
        """With ``at_once``, send a request straight on to the child from the caller's
        thread (the event loop) when nothing is queued before it and the write cannot block;
        else queue it for the writer thread. Sent at once, the child takes it while the event
        loop handles the next: waiting for the writer thread, which needs the interpreter
        lock the event loop holds, requests arrive at the child in the groups the lock makes
        (a convoy, see docs/benchmarks.md)."""
        if not self._at_once:
            super()._enqueue(item)
            return
        with self._order:
            committer = self._committer
            if self._queued == 0 and committer is not None and committer.send_now([item]):
                return
            self._queued += 1
        super()._enqueue(item)

    def _commit(self, group: list[Queued]) -> None:
        try:
            self._send(group)
        finally:
            with self._order:
                self._queued -= len(group)

    def _send(self, group: list[Queued]) -> None:
        committer = self._committer
        if committer is None or committer.broken:
            if committer is not None:
                committer.close()
            self._committer = None
            try:
                committer = self._committer = _Committer(
                    self._url, self._max, self._resolve, self._connect
                )
            except Exception as exc:  # noqa: BLE001 - answered as the child's loss is
                _gone(self._resolve, [group], exc)
                return
        committer.send(group)


class _Committer:
    """One child process committing what it is sent, in order — or, with ``connect``, the
    writer process all workers share — and the thread here that reads its answers and
    resolves the requests of each."""

    def __init__(
        self,
        url: str,
        max_events: int,
        resolve: Resolve,
        connect: Callable[[], Connection] | None = None,
    ) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        if connect is not None:  # ready once connected; one connection both ways
            self._requests = self._answers = connect()
        else:
            self._child, self._requests, self._answers = _start(url, max_events)
            try:
                ready = self._answers.recv()
            except EOFError:
                ready = StoreError("the writer process ended as it started")
            if isinstance(ready, BaseException):
                self._stop()
                raise ready
        self._resolve = resolve
        self._room = _room_of(self._requests.fileno())
        self._lock = threading.Lock()
        self._sent: collections.deque[list[Queued]] = collections.deque()
        """The groups sent and not yet answered, in the order sent."""
        self.broken = False
        """Set once the child is gone or its pipe failed: nothing more is sent to it."""
        self._reader = threading.Thread(target=self._read, name="kansa-writer-answers", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        """The child's process id (None: the shared writer process, not a child here)."""
        return self._child.pid if self._child is not None else None

    def send(self, group: list[Queued]) -> None:
        """Send ``group`` on to the child; its requests are answered once it has committed
        them (or with a 503 if it is gone first)."""
        try:
            payload = pickle.dumps([events for events, _ in group], pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - these requests fail, the others go on
            error = StoreError(f"could not hand the events to the writer process: {exc}")
            self._resolve(group, [error] * len(group), False)
            return
        with self._lock:
            broken = self.broken
            if not broken:
                self._sent.append(group)
        if broken:
            _gone(self._resolve, [group], StoreUnavailable("the writer process is gone"))
            return
        try:
            self._requests.send_bytes(payload)
        except OSError as exc:  # the child is gone
            self._fail(exc)

    def send_now(self, group: list[Queued]) -> bool:
        """Send ``group`` on from the caller's thread if the write cannot block: its message
        fits in one write the pipe keeps whole (``PIPE_BUF``) and the pipe has room for it.
        False, with nothing sent, otherwise (the caller hands it to the writer thread, which
        also answers what cannot be pickled or sent). The caller makes sure no other thread
        writes meanwhile."""
        room = self._room
        if room is None or self.broken:
            return False
        if sum(len(event.core) for events, _ in group for event in events) > select.PIPE_BUF:
            return False  # its pickle holds every event's bytes: too large, so not pickled here
        try:
            payload = pickle.dumps([events for events, _ in group], pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - the writer thread answers it
            return False
        message = _FRAME(len(payload)) + payload  # as Connection.send_bytes frames it
        if len(message) > select.PIPE_BUF:
            return False
        with self._lock:
            try:
                if self.broken or not room(len(message)):
                    return False
                written = os.write(self._requests.fileno(), message)
            except OSError:  # the child is gone: the writer thread finds out and answers
                return False
            if written == len(message):
                self._sent.append(group)
                return True
        # A pipe takes a write of PIPE_BUF bytes whole or not at all: never here. The child
        # would read the rest of this message from the next one's bytes, so it is stopped.
        self._fail(StoreUnavailable("the writer process's pipe took part of a request"))
        return False

    def close(self) -> None:
        """Tell the child to stop once it has committed what it was sent; wait for its
        answers, then for it to end (killed if it does not)."""
        self._stop(self._reader)
        self._fail(StoreUnavailable("the writer process stopped"))  # anything unanswered

    def _stop(self, reader: threading.Thread | None = None) -> None:
        try:
            self._requests.send(None)
        except OSError:
            pass  # gone already
        if reader is not None:
            reader.join(STOP_SECONDS)
        if self._child is not None:
            end_child(self._child)
        if reader is not None:
            reader.join()
        self._requests.close()
        self._answers.close()

    def _read(self) -> None:
        while True:
            try:
                answer: Answer = self._answers.recv()
            except Exception as exc:  # noqa: BLE001 - EOF: the child is gone
                self._fail(exc)
                return
            outcomes, shared, count = answer
            with self._lock:
                if self.broken:  # every request sent was answered when it broke
                    continue
                groups = [self._sent.popleft() for _ in range(count)]
            self._resolve([item for group in groups for item in group], outcomes, shared)

    def _fail(self, cause: BaseException) -> None:
        with self._lock:
            self.broken = True
            groups = list(self._sent)
            self._sent.clear()
        _gone(self._resolve, groups, cause)


_FRAME = struct.Struct("!i").pack


def _room_of(fd: int) -> Callable[[int], bool] | None:
    """Whether the pipe — or the Unix socket of the writer process the workers share — that
    ``fd`` writes to has room for so many bytes without blocking: the bytes not yet read
    (pipe: ``FIONREAD``) or not yet taken by the other end (socket: ``SIOCOUTQ``, which counts
    the kernel's own bookkeeping of each message too), within half its size (``F_GETPIPE_SZ``,
    ``SO_SNDBUF``), leaving room whatever the writes before filled. None where the system
    tells neither (the writer thread then sends every request)."""
    try:
        size = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        asked = termios.FIONREAD
    except OSError:  # not a pipe
        try:
            with socket.socket(fileno=os.dup(fd)) as sock:
                size = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            asked = termios.TIOCOUTQ  # SIOCOUTQ on a socket
        except (AttributeError, OSError):
            return None
    except AttributeError:
        return None
    queued = array.array("i", [0])
    try:
        fcntl.ioctl(fd, asked, queued)
    except OSError:
        return None

    def room(length: int) -> bool:
        fcntl.ioctl(fd, asked, queued)
        return queued[0] + length <= size // 2

    return room


def _gone(resolve: Resolve, groups: Sequence[list[Queued]], cause: BaseException) -> None:
    """Answer the requests of ``groups``, which the child may or may not have committed."""
    if not groups:
        return
    gone = StoreUnavailable(
        f"the writer process stopped before answering ({type(cause).__name__});"
        " the events may or may not be stored: retry with the same client ids"
    )
    group = [item for each in groups for item in each]
    resolve(group, [gone] * len(group), False)


CHILD = "from kansa.server.writer_process import main; main()"
"""What the writer process runs (``python -c``), the two ends of its pipes as arguments."""


def _start(url: str, max_events: int) -> tuple[subprocess.Popen[bytes], Connection, Connection]:
    """The writer process, started, and the ends of its two pipes this process keeps."""
    return start_child(CHILD, (url, max_events))


def start_child(
    code: str, settings: tuple[Any, ...]
) -> tuple[subprocess.Popen[bytes], Connection, Connection]:
    """A ``python -c code`` process (a writer process, or the one the workers share), started
    with the two ends of its pipes as arguments, and the ends this process keeps: the one it
    is sent to, ``settings`` sent first, and the one it answers on. The settings (a database
    URL) go through the pipe, never on its command line, where ``ps`` shows them."""
    child_reads, we_send = os.pipe()
    we_read, child_sends = os.pipe()
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(child_reads), str(child_sends)],
            pass_fds=(child_reads, child_sends),
            stdin=subprocess.DEVNULL,
        )
    except BaseException:
        for end in (we_send, we_read):
            os.close(end)
        raise
    finally:
        for end in (child_reads, child_sends):  # the child's: with it gone, reads here end
            os.close(end)
    requests = Connection(we_send, readable=False)
    requests.send(settings)
    return child, requests, Connection(we_read, writable=False)


def end_child(child: subprocess.Popen[bytes]) -> None:
    """Wait for ``child``, told to stop, to end; kill it if it does not within
    :data:`STOP_SECONDS`."""
    try:
        child.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def child_ends() -> tuple[Connection, Connection, Any]:
    """In a process :func:`start_child` started: the ends of its pipes (read, answer) and
    the settings sent first (None when its parent is gone already). It ignores SIGINT, which
    a terminal sends the whole process group: its parent tells it when to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = Connection(int(sys.argv[1]), writable=False)
    answers = Connection(int(sys.argv[2]), readable=False)
    try:
        settings = requests.recv()
    except EOFError:
        settings = None
    return requests, answers, settings


def main() -> None:
    """The writer process (:data:`CHILD`): its settings from the pipe, then
    :func:`commit_groups`."""
    requests, answers, settings = child_ends()
    if settings is None:
        return  # the serving process is gone already
    url, max_events = settings
    commit_groups(url, max_events, requests, answers)


def commit_groups(url: str, max_events: int, requests: Connection, answers: Connection) -> None:
    """The child: open the store at ``url``, say so (or why not), then, until told to stop
    or the pipe closes, commit together every list of requests sent while it committed the
    last (up to ``max_events`` events), and send back their outcomes."""
    from kansa.store import open_store

    try:
        store = open_store(url, sqlite_cache_mib=WRITER_CACHE_MIB)
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        answers.send(sendable(exc))
        return
    heap.settle()  # before saying it is ready: the first commit does not wait for it
    answers.send(None)
    try:
        while (first := _received(requests)) is not None:
            taken: Requests = list(first)
            count, lists, stop = sum(map(len, first)), 1, False
            while count < max_events and requests.poll():
                if (more := _received(requests)) is None:
                    stop = True  # after this commit
                    break
                taken += more
                count += sum(map(len, more))
                lists += 1
            outcomes, shared = commit_group(store, taken)
            sent = [sendable(o) if isinstance(o, BaseException) else o for o in outcomes]
            try:
                answers.send((sent, shared, lists))
            except OSError:
                return  # the serving process is gone
            if stop:
                return
    finally:
        store.close()


def _received(requests: Connection) -> Requests | None:
    """The next list of requests, or None when told to stop or the serving process is gone."""
    try:
        received: Requests | None = requests.recv()
    except EOFError:
        return None
    return received


def sendable(error: BaseException) -> BaseException:
    """``error`` if it comes through the pipe as itself, else a :class:`StoreError` saying
    what it was (an exception whose arguments do not rebuild it cannot be sent)."""
    try:
        back = pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - any failure to rebuild it
        back = None
    if type(back) is type(error) and str(back) == str(error):
        return error
    return StoreError(f"could not store events: {type(error).__name__}: {error}")
