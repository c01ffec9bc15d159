"""The writer with its appends in a process of its own.

The writer thread (:class:`~kansa.server.writer.Writer`) shares the interpreter lock with
the event loop. Under load the loop holds it most of the time, and each time the writer
comes back from the database it waits for its turn: measured on PostgreSQL with one event
per request, a commit of eight events took 6.4–6.8 ms inside ``kansa serve`` against 3.1–3.5
ms for the same append alone (docs/benchmarks.md). Here the thread still groups the queued
requests exactly as before, but hands each group to a child process that owns its own
connection to the database and commits it (:func:`~kansa.server.writer.commit_group`, the
same code), and waits for the outcome without holding the lock. A request is answered only
after its commit, as before.

If the child stops (killed, out of memory), the requests of the group it held get
:class:`~kansa.errors.StoreUnavailable` (a 503: they may or may not have been stored, and a
retry with the same client id is answered as a duplicate), and the next group starts a new
child. The child ignores SIGINT, which a terminal sends the whole process group on Ctrl-C:
it finishes what it was given and ends when the writer closes it (or when this process is
gone and its end of the pipe closes). SIGTERM ends it at once, as it ends any process; a
service manager stopping kansa signals the serving process alone (deploy/kansa.service:
``KillMode=mixed``), which then closes the writer. Were the child to ignore SIGTERM too,
``multiprocessing``'s exit handler, which ends a daemon child with SIGTERM and waits for it,
could wait for ever.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from kansa.errors import StoreError, StoreUnavailable
from kansa.events.prepare import PreparedEvent
from kansa.server.metrics import Metrics
from kansa.server.writer import Outcome, Writer, commit_group
from kansa.store import Store

STOP_SECONDS = 30.0
"""How long closing waits for the child to end once told to, before it is killed."""


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
    ) -> None:
        super().__init__(store, max_events=max_events, metrics=metrics)
        self._url = url
        self._child: BaseProcess | None = None
        self._pipe: Connection | None = None

    def start(self) -> None:
        with self._running:
            if self._started:
                return
            self._spawn()  # started before the first request: a bad URL fails here
        super().start()

    def close(self) -> None:
        super().close()  # the thread commits what was queued, then ends
        self._stop_child()

    @property
    def child_pid(self) -> int | None:
        """The committing process's id (None before the first start, or once stopped)."""
        return self._child.pid if self._child is not None else None

    def _outcomes(self, requests: list[Sequence[PreparedEvent]]) -> tuple[list[Outcome], bool]:
        try:
            if self._pipe is None or self._child is None or not self._child.is_alive():
                self._stop_child()
                self._spawn()
            assert self._pipe is not None
            self._pipe.send(requests)
            outcomes, shared = self._pipe.recv()
        except Exception as exc:  # noqa: BLE001 - the child is gone or could not start
            self._stop_child()
            gone: Outcome = StoreUnavailable(
                f"the writer process stopped before answering ({type(exc).__name__});"
                " the events may or may not be stored: retry with the same client ids"
            )
            return [gone] * len(requests), False
        return outcomes, shared

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        ours, theirs = context.Pipe()
        child = context.Process(
            target=commit_groups, args=(self._url, theirs), name="kansa-writer", daemon=True
        )
        child.start()
        theirs.close()
        try:
            ready = ours.recv()
        except EOFError:
            ready = StoreError("the writer process ended as it started")
        if isinstance(ready, BaseException):
            child.join(STOP_SECONDS)
            ours.close()
            raise ready
        self._child, self._pipe = child, ours

    def _stop_child(self) -> None:
        child, pipe = self._child, self._pipe
        self._child = self._pipe = None
        if pipe is not None:
            try:
                pipe.send(None)
            except OSError:
                pass  # gone already
        if child is not None:
            child.join(STOP_SECONDS)
            if child.is_alive():
                child.kill()
                child.join()
        if pipe is not None:
            pipe.close()


def commit_groups(url: str, pipe: Connection) -> None:
    """The child: open the store at ``url``, say so (or why not), then commit each group of
    requests it is sent and send back the outcomes, until told to stop or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from kansa.store import open_store

    try:
        store = open_store(url)
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        pipe.send(sendable(exc))
        return
    pipe.send(None)
    try:
        while True:
            try:
                requests = pipe.recv()
            except EOFError:
                return
            if requests is None:
                return
            outcomes, shared = commit_group(store, requests)
            sent = [sendable(o) if isinstance(o, BaseException) else o for o in outcomes]
            pipe.send((sent, shared))
    finally:
        store.close()


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
