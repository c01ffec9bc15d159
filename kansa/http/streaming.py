"""Streaming a file that blocking code produces: one worker thread runs the producer from its
first chunk to its last (store cursors stay on the thread that opened them), handing chunks to
the event loop through a small queue, so a slow client slows the producer instead of filling
memory. Plus a streaming response that can end with HTTP trailers where the server supports
them (the ASGI ``http.response.trailers`` extension)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import Executor

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

QUEUE_DEPTH = 8
"""Chunks (about 64 KiB each) waiting between the producer and the client."""
_DONE = object()


async def threaded(
    produce: Callable[[], Iterator[bytes]], executor: Executor, depth: int = QUEUE_DEPTH
) -> AsyncGenerator[bytes, None]:
    """The chunks of ``produce()``, run start to end on one thread of ``executor``. Closing
    this iterator early stops the producer and closes its generator (and so its cursor)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while True:
            try:
                future.result(timeout=0.5)
                return True
            except TimeoutError:
                if stop.is_set():
                    future.cancel()
                    return False

    def run() -> None:
        chunks = produce()
        try:
            for chunk in chunks:
                if stop.is_set() or not put(chunk):
                    return
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            put(_DONE)

    task = loop.run_in_executor(executor, run)
    try:
        while (item := await queue.get()) is not _DONE:
            assert isinstance(item, bytes)
            yield item
        await task  # the producer's exception, if it failed
    finally:
        stop.set()
        while not queue.empty():
            queue.get_nowait()


class TrailingResponse(StreamingResponse):
    """A streaming response whose ``trailers()`` are sent after the body when the server
    offers HTTP trailers (the header ``Trailer`` names them); otherwise they are not sent."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        trailers: Callable[[], Mapping[str, str]],
        trailer_names: tuple[str, ...],
        headers: Mapping[str, str],
        media_type: str,
    ) -> None:
        super().__init__(content, headers=headers, media_type=media_type)
        self._trailers = trailers
        self._names = trailer_names
        self._with_trailers = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._with_trailers = "http.response.trailers" in scope.get("extensions", {})
        if self._with_trailers:
            self.headers["trailer"] = ", ".join(self._names)
        await super().__call__(scope, receive, send)

    async def stream_response(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
                "trailers": self._with_trailers,
            }
        )
        body = self.body_iterator
        try:
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            close = getattr(body, "aclose", None)
            if close is not None:
                await close()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        if self._with_trailers:
            fields = [(k.lower().encode(), v.encode()) for k, v in self._trailers().items()]
            await send(
                {"type": "http.response.trailers", "headers": fields, "more_trailers": False}
            )
