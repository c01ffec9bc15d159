"""One sender per kind of destination: it hands a batch to its receiver and returns only once
the receiver accepted it, else raises :class:`DeliveryFailed` (the cursor then waits)."""

from __future__ import annotations

from typing import Protocol

from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Destination


class DeliveryFailed(Exception):
    """The receiver did not accept a batch; the message says why (never a secret)."""


class Sender(Protocol):
    def send(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


def sender_for(destination: Destination, secret: str | None) -> Sender:
    """The sender of ``destination``'s kind, with its secret opened."""
    if destination.kind == "webhook":
        from kansa.streaming.senders.webhook import WebhookSender

        return WebhookSender(destination, secret)
    if destination.kind == "nats":
        from kansa.streaming.senders.jetstream import JetStreamSender

        return JetStreamSender(destination, secret)
    from kansa.streaming.senders.objects import ObjectSender

    return ObjectSender(destination, secret)
