"""uvicorn's HTTP protocol (httptools) with a reply's head and body sent to the socket
together.

uvicorn writes a response's status line and headers, then its body, each as it comes. With
Nagle's algorithm off, as uvicorn's sockets have it, every write is a system call and a packet
of its own, and the client is woken for each: for a small reply such as an append's receipts,
two of each where one would do. Here a write is kept until the next one, which takes it
along in the same system call, or until the end of that turn of the event loop
(``call_soon``), whichever comes first: a reply whose head and body are written in one turn
goes out as one write and one packet, when its body is written, not a turn later.

Nothing else changes: the bytes and their order are the same; at most one write is kept, and
closing sends it first; the socket's own buffer and its flow control — the protocol told to
pause writing while the client reads slowly — are the socket transport's, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TurnWrites:
    """A transport whose every write waits for the next one or for the end of the turn of
    ``loop``, and is then sent with it; every other call goes to the transport."""

    __slots__ = ("_transport", "_loop", "_kept")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        kept = self._kept
        if kept is None:
            self._kept = bytes(data)
            self._loop.call_soon(self.send)
        else:
            self._kept = None
            if not self._transport.is_closing():
                self._transport.writelines((kept, data))  # one system call for both

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(chunks))

    def send(self) -> None:
        """Hand the kept write, if any, to the transport now."""
        kept, self._kept = self._kept, None
        if kept and not self._transport.is_closing():  # a connection lost takes nothing
            self._transport.write(kept)

    def close(self) -> None:
        self.send()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class TurnHttpToolsProtocol(HttpToolsProtocol):
    """:class:`~uvicorn.protocols.http.httptools_impl.HttpToolsProtocol` writing through
    :class:`TurnWrites` (``http=`` of ``uvicorn.run``)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(
            TurnWrites(transport, self.loop)  # type: ignore[arg-type]
        )
