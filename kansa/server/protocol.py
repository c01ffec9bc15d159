"""uvicorn's HTTP protocol (httptools) with what one turn of the event loop writes to a
connection sent to it at once.

uvicorn writes a response's status line and headers, then its body, each as it comes. With
Nagle's algorithm off, as uvicorn's sockets have it, every write is a system call and a packet
of its own, and the client is woken for each: for a small reply such as an append's receipts,
two of each where one would do. Here the writes of one turn of the event loop are kept and
handed to the socket together at the end of that turn (``call_soon``): a reply written in one
turn goes out as one write and one packet.

Nothing else changes: the bytes and their order are the same; closing, or keeping more than
:data:`SEND_AT` bytes, sends what is kept at once (a long response written without a pause is
not held in memory); the socket's own buffer and its flow control — the protocol told to pause
writing while the client reads slowly — are the socket transport's, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

SEND_AT = 64 * 1024
"""Bytes kept at most before they are sent without waiting for the end of the turn."""


class TurnWrites:
    """A transport's writes of one turn of ``loop``, sent to it together at the turn's end;
    every other call goes to the transport."""

    __slots__ = ("_transport", "_loop", "_kept", "_size")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._kept is None:
            self._kept = []
            self._loop.call_soon(self.send)
        self._kept.append(bytes(data))
        self._size += len(data)
        if self._size >= SEND_AT:
            self.send()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(chunks))

    def send(self) -> None:
        """Hand what is kept to the transport now (nothing when nothing is)."""
        kept, self._kept, self._size = self._kept, None, 0
        if kept and not self._transport.is_closing():  # a connection lost takes nothing
            self._transport.write(kept[0] if len(kept) == 1 else b"".join(kept))

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
