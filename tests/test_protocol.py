"""kansa.server.protocol: a reply's head and body reach the socket as one write, the same
bytes in the same order; a write with none after it waits no longer than the turn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import uvicorn
import uvloop

from kansa.server.protocol import TurnHttpToolsProtocol, TurnWrites


class Recording:
    """A socket transport, with each write it was handed (one per call) kept for the test."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def writelines(self, chunks: tuple[bytes, ...]) -> None:  # one call: one write
        self.writes.append(b"".join(bytes(chunk) for chunk in chunks))
        self.transport.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


Check = Callable[[TurnWrites, Recording, asyncio.StreamReader], Awaitable[None]]


def _on_a_socket(check: Check) -> list[dict[str, Any]]:
    """Run ``check`` on a TurnWrites over a real socket pair's transport (uvloop, as kansa
    serves); the errors the loop reported meanwhile."""
    errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        ours, theirs = socket.socketpair()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
        reader, writer = await asyncio.open_connection(sock=theirs)
        recording = Recording(transport)
        try:
            await check(TurnWrites(recording, loop), recording, reader)  # type: ignore[arg-type]
        finally:
            writer.close()
            transport.close()
            await asyncio.sleep(0)

    uvloop.run(main())
    return errors


def test_a_head_and_its_body_go_out_as_one_write_when_the_body_is_written() -> None:
    async def check(turn: TurnWrites, sent: Recording, reader: asyncio.StreamReader) -> None:
        head = b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\n"
        turn.write(head)
        turn.write(b"")
        assert sent.writes == []  # kept for the next write
        turn.write(bytearray(b"abcd"))
        assert sent.writes == [head + b"abcd"]  # at once, with it: not a turn later
        assert await reader.readexactly(len(head) + 4) == head + b"abcd"

    assert _on_a_socket(check) == []


def test_a_write_with_none_after_it_goes_at_the_end_of_the_turn_in_its_place() -> None:
    async def check(turn: TurnWrites, sent: Recording, reader: asyncio.StreamReader) -> None:
        turn.write(b"one")
        turn.write(b"two")
        turn.writelines([b"thr", memoryview(b"ee")])
        assert sent.writes == [b"onetwo"]
        await asyncio.sleep(0)
        assert sent.writes == [b"onetwo", b"three"]
        big = b"x" * (1 << 20)
        turn.write(big)
        turn.write(b"tail")
        await asyncio.sleep(0)
        assert sent.writes[2:] == [big + b"tail"]
        assert await reader.readexactly(11 + len(big) + 4) == b"onetwothree" + big + b"tail"

    assert _on_a_socket(check) == []


def test_closing_sends_what_is_kept_first() -> None:
    async def check(turn: TurnWrites, sent: Recording, reader: asyncio.StreamReader) -> None:
        turn.write(b"last words")
        turn.close()
        assert sent.writes == [b"last words"]
        assert await reader.read() == b"last words"  # then the end of the stream
        await asyncio.sleep(0)  # the turn's own send finds nothing left
        assert sent.writes == [b"last words"]

    assert _on_a_socket(check) == []


def test_a_connection_lost_before_the_turn_ends_takes_nothing_and_reports_nothing() -> None:
    async def check(turn: TurnWrites, sent: Recording, reader: asyncio.StreamReader) -> None:
        turn.write(b"never sent")
        turn.abort()  # the transport's own: the kept bytes have nowhere to go
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert sent.writes == []

    assert _on_a_socket(check) == []


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A reply of 201 with a small body, or at /stream 3 MiB in 64 chunks written with no
    pause between them."""
    assert scope["type"] == "http"
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for n in range(64):
            chunk = bytes([65 + n % 26]) * (48 * 1024)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b'{"receipts":[]}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_uvicorn_serves_through_it_replies_and_long_streams_alike() -> None:
    """The protocol as ``kansa serve`` runs it: keep-alive replies in order, and a stream
    written without a pause arrives whole."""

    async def main() -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = uvicorn.Config(
            _app, host="127.0.0.1", port=port, http=TurnHttpToolsProtocol, log_config=None,
            access_log=False, loop="none", lifespan="off",
        )  # fmt: skip
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for _ in range(20):  # one connection, kept alive
                    reply = await client.post("/api/v1/events", content=b"{}")
                    assert (reply.status_code, reply.content) == (201, b'{"receipts":[]}')
                streamed = await client.get("/stream")
                assert streamed.status_code == 200
                expected = b"".join(bytes([65 + n % 26]) * (48 * 1024) for n in range(64))
                assert streamed.content == expected
        finally:
            server.should_exit = True
            await task

    uvloop.run(main())
