"""One sender per kind of destination: it hands a batch to its receiver and returns only once
the receiver accepted it, else raises :class:`DeliveryFailed` (the cursor then waits)."""

from __future__ import annotations

from typing import Protocol

from kansa.errors import ConfigError
from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Destination
from kansa.streaming.sealing import Sealer


class DeliveryFailed(Exception):
    """The receiver did not accept a batch; the message says why (never a secret)."""


class Sender(Protocol):
    def send(self, batch: Batch) -> None: ...

    def probe(self) -> None:
        """Reach the receiver without delivering anything (``test``); DeliveryFailed if not."""
        ...

    def close(self) -> None: ...


def sender_for(destination: Destination, secret: str | None) -> Sender:
    """The sender of ``destination``'s kind, with its secret opened; DeliveryFailed when it
    cannot be made from the destination's settings."""
    try:
        return _sender_for(destination, secret)
    except (ValueError, OSError) as exc:
        raise DeliveryFailed(f"cannot reach {destination.kind} as configured: {exc}") from None


def _sender_for(destination: Destination, secret: str | None) -> Sender:
    if destination.kind == "webhook":
        from kansa.streaming.senders.webhook import WebhookSender

        return WebhookSender(destination, secret)
    if destination.kind == "nats":
        from kansa.streaming.senders.jetstream import JetStreamSender

        return JetStreamSender(destination, secret)
    if destination.kind == "hec":
        from kansa.streaming.senders.hec import HecSender

        return HecSender(destination, secret)
    if destination.kind == "syslog":
        from kansa.streaming.senders.syslog import SyslogSender

        return SyslogSender(destination, secret)
    if destination.kind == "otlp":
        from kansa.streaming.senders.otlp import OtlpSender

        return OtlpSender(destination, secret)
    from kansa.streaming.senders.objects import ObjectSender

    return ObjectSender(destination, secret)


def probed(destination: Destination, sealer: Sealer) -> str | None:
    """Reach ``destination``'s receiver without delivering: None, or why it failed."""
    try:
        secret = sealer.open(destination.sealed, destination.id) if destination.sealed else None
        sender = sender_for(destination, secret)
    except (DeliveryFailed, ConfigError) as exc:
        return str(exc)
    try:
        sender.probe()
    except DeliveryFailed as exc:
        return str(exc)
    finally:
        sender.close()
    return None
