"""The :class:`Client` a publisher holds: ``publish`` commits to the spool and returns; a
background thread delivers."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from kansa.client.backoff import Backoff
from kansa.client.errors import ClientClosed
from kansa.client.sender import Sender
from kansa.client.spool import Rejected, Spool, Sync, default_spool_path
from kansa.client.stats import Counters, Stats
from kansa.client.transport import Transport
from kansa.ids import new_id


class Client:
    """Publishes events to the kansa at ``url`` with ``api_key`` (publish scope).

    ``publish`` returns as soon as the event is committed to the spool; it is delivered in
    the background, retried until kansa acknowledges it, and never lost to a server outage
    or a restart of this process. Safe to share between threads; one Client per spool.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        spool_path: Path | str | None = None,
        batch_size: int = 500,
        max_latency: float = 0.5,
        request_timeout: float = 10.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        spool_sync: Sync = "full",
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if not api_key:
            raise ValueError("an API key is required")
        if batch_size < 1 or max_latency < 0 or request_timeout <= 0:
            raise ValueError("batch_size >= 1, max_latency >= 0 and request_timeout > 0")
        if spool_sync not in ("full", "normal"):
            raise ValueError("spool_sync is 'full' or 'normal'")
        backoff = Backoff(backoff_base, backoff_max)
        self._spool = Spool(spool_path or default_spool_path(url), sync=spool_sync)
        self._counters = Counters()
        self._lock = threading.Lock()
        self._closed = False
        self._sender = Sender(
            self._spool,
            Transport(url, api_key, timeout=request_timeout),
            self._counters,
            backoff,
            batch_size=batch_size,
            max_latency=max_latency,
        )
        self._sender.start()

    @property
    def spool_path(self) -> Path:
        return self._spool.path

    def publish(self, event: Mapping[str, Any]) -> str:
        """Queue one event; return its client ``id`` (the one it has, or a new time-sortable
        one). The event is in the spool, committed, when this returns."""
        return self.publish_many([event])[0]

    def publish_many(self, events: Iterable[Mapping[str, Any]]) -> list[str]:
        """Queue several events in one spool transaction (all or none); their ids in order."""
        prepared = [_encode(event) for event in events]
        with self._lock:
            if self._closed:
                raise ClientClosed("this kansa client is closed")
            if prepared:
                self._spool.add(prepared)
        self._counters.add(published=len(prepared))
        self._sender.wake()
        return [event_id for event_id, _ in prepared]

    def flush(self, timeout: float = 10.0) -> bool:
        """Send everything now; True once the spool holds nothing unacknowledged, False if
        it still does after ``timeout`` seconds (the events stay spooled)."""
        if self._closed:
            return self._spool.pending == 0
        return self._sender.flush(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush for up to ``timeout`` seconds, then stop the sender and release the spool.
        True when nothing was left unacknowledged; what was is sent by the next Client on
        the same spool."""
        with self._lock:
            if self._closed:
                return self._spool.pending == 0
            self._closed = True
        delivered = self._sender.flush(timeout)
        self._sender.stop(timeout=max(timeout, 1.0))
        return delivered

    @property
    def stats(self) -> Stats:
        return self._counters.snapshot(self._spool.pending, self._spool.rejected_count)

    def rejected(self) -> list[Rejected]:
        """The events kansa refused (4xx), with its status, detail and problems."""
        with self._lock:
            if self._closed:
                raise ClientClosed("this kansa client is closed")
            return self._spool.rejected()

    def requeue_rejected(self) -> int:
        """Send every rejected event again (once the cause is fixed); how many were moved."""
        with self._lock:
            if self._closed:
                raise ClientClosed("this kansa client is closed")
            moved = self._spool.requeue_rejected()
        self._sender.wake()
        return moved

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _encode(event: Mapping[str, Any]) -> tuple[str, bytes]:
    """The event's id (made when it has none) and its JSON; TypeError for what is not a
    JSON object or cannot be encoded."""
    if not isinstance(event, Mapping):
        raise TypeError(f"an event is a mapping, not {type(event).__name__}")
    event_id = event.get("id")
    if event_id is None:
        event_id = new_id()
    elif not isinstance(event_id, str) or not event_id:
        raise TypeError("an event's id, when given, is a non-empty string")
    body = orjson.dumps({**event, "id": event_id})
    return event_id, body
