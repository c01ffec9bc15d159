"""NATS JetStream: one message per batch (the batch as JSON Lines) on the subject
``<subject_prefix>.<tenant>``, with ``Nats-Msg-Id`` set to the batch's id so JetStream drops
a batch sent again within its duplicate window. Accepted means JetStream acknowledged it
(stored in a stream); a subject no stream takes is a failure. nats-py is asyncio: the sender
keeps one event loop of its own on a thread, and one connection."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError

from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Destination
from kansa.streaming.senders import DeliveryFailed

T = TypeVar("T")
TIMEOUT = 10.0
UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def subject_for(prefix: str, tenant: str) -> str:
    """The subject of a tenant's batches: characters a subject token may not hold become _."""
    return f"{prefix}.{UNSAFE.sub('_', tenant)}"


class JetStreamSender:
    def __init__(self, destination: Destination, secret: str | None) -> None:
        self.url = str(destination.config["url"])
        self.prefix = str(destination.config.get("subject_prefix", "kansa"))
        self.token = secret
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kansa-nats", daemon=True)
        self.thread.start()
        self.client: Client | None = None

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(TIMEOUT * 2)

    async def _connect(self) -> Client:
        if self.client is None or not self.client.is_connected:
            self.client = await nats.connect(
                self.url,
                token=self.token,
                connect_timeout=TIMEOUT,
                max_reconnect_attempts=0,
                allow_reconnect=False,
            )
        return self.client

    async def _publish(self, batch: Batch) -> None:
        client = await self._connect()
        await client.jetstream().publish(
            subject_for(self.prefix, batch.tenant),
            batch.document(),
            timeout=TIMEOUT,
            headers={
                "Nats-Msg-Id": batch.id,
                "Kansa-Tenant": batch.tenant,
                "Kansa-First-Seq": str(batch.first_seq),
                "Kansa-Last-Seq": str(batch.last_seq),
            },
        )

    def send(self, batch: Batch) -> None:
        try:
            self._run(self._publish(batch))
        except (NatsError, OSError, TimeoutError) as exc:
            why = type(exc).__name__
            raise DeliveryFailed(f"JetStream did not take the batch: {why}") from None

    async def _probe(self) -> None:
        client = await self._connect()
        await client.jetstream().find_stream_name_by_subject(f"{self.prefix}.>")

    def probe(self) -> None:
        """Whether the server answers and a stream takes the destination's subjects."""
        try:
            self._run(self._probe())
        except (NatsError, OSError, TimeoutError) as exc:
            why = type(exc).__name__
            raise DeliveryFailed(f"no JetStream stream takes {self.prefix}.>: {why}") from None

    async def _close(self) -> None:
        if self.client is not None and not self.client.is_closed:
            await self.client.close()

    def close(self) -> None:
        try:
            self._run(self._close())
        except (NatsError, OSError, TimeoutError):
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()
