"""Syslog over TCP with TLS: RFC 5424 messages framed by RFC 6587 octet counting
(``<length> <message>``). A batch is its proof line (MSGID ``kansa.batch``), one message per
event (MSGID the action, truncated to 32 characters) and its signed manifest
(``kansa.manifest``); each MSG is the exact line kansa stored, as JSON after a UTF-8 BOM, and
the structured data ``[kansa@32473 tenant="…" seq="…" batch="…"]``. Syslog has no
acknowledgement: accepted means every byte was written to the TLS stream (and the receiver did
not close it)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import orjson

from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Destination
from kansa.streaming.senders import DeliveryFailed

ENTERPRISE = "kansa@32473"
"""The structured data id (32473: the example enterprise number of RFC 5612)."""
SEVERITY = {"error": 3, "warning": 4, "important": 5, "info": 6}
BOM = "\ufeff"


def _param(value: object) -> str:
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _token(text: str, limit: int) -> str:
    printable = "".join(c for c in text if 33 <= ord(c) <= 126)
    return printable[:limit] or "-"


def message(
    line: bytes,
    *,
    facility: int,
    hostname: str,
    msgid: str,
    event: dict[str, Any] | None,
    params: dict[str, object],
) -> bytes:
    """One RFC 5424 message holding ``line``."""
    severity = SEVERITY.get(str((event or {}).get("level")), 6) if event else 6
    stamp = str(event["occurred_at"]) if event else "-"
    data = " ".join(f'{k}="{_param(v)}"' for k, v in params.items())
    head = (
        f"<{facility * 8 + severity}>1 {stamp} {_token(hostname, 255)} kansa - "
        f"{_token(msgid, 32)} [{ENTERPRISE} {data}] {BOM}"
    )
    return head.encode() + line


def framed(messages: list[bytes]) -> bytes:
    """RFC 6587 octet counting: each message preceded by its length in bytes and a space."""
    return b"".join(b"%d %b" % (len(m), m) for m in messages)


class SyslogSender:
    def __init__(self, destination: Destination, secret: str | None) -> None:
        config = destination.config
        self.host = str(config["host"])
        self.port = int(config.get("port", 6514))
        self.facility = int(config.get("facility", 13))  # 13: log audit
        self.hostname = str(config.get("hostname") or socket.gethostname())
        self.ca_pem = config.get("ca_pem")
        self.sock: ssl.SSLSocket | None = None

    def batch_messages(self, batch: Batch) -> list[bytes]:
        common: dict[str, object] = {"tenant": batch.tenant, "batch": batch.id}
        out = [self._message(batch.header(), "kansa.batch", None, common)]
        for link in batch.links:
            event = orjson.loads(link.body)["event"]
            out.append(
                self._message(link.body, str(event["action"]), event, {**common, "seq": link.seq})
            )
        if batch.manifest is not None:
            out.append(self._message(batch.manifest, "kansa.manifest", None, common))
        return out

    def _message(
        self, line: bytes, msgid: str, event: dict[str, Any] | None, params: dict[str, object]
    ) -> bytes:
        return message(
            line,
            facility=self.facility,
            hostname=self.hostname,
            msgid=msgid,
            event=event,
            params=params,
        )

    def _connect(self) -> ssl.SSLSocket:
        if self.sock is None:
            context = ssl.create_default_context(cadata=self.ca_pem)
            raw = socket.create_connection((self.host, self.port), timeout=10)
            try:
                self.sock = context.wrap_socket(raw, server_hostname=self.host)
            except (ssl.SSLError, OSError):
                raw.close()
                raise
        return self.sock

    def send(self, batch: Batch) -> None:
        try:
            self._connect().sendall(framed(self.batch_messages(batch)))
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.close()
            raise DeliveryFailed(f"syslog over TLS failed: {type(exc).__name__}: {exc}") from None

    def probe(self) -> None:
        """A TLS handshake with the receiver, nothing sent."""
        try:
            self._connect()
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise DeliveryFailed(f"syslog over TLS failed: {type(exc).__name__}: {exc}") from None
        finally:
            self.close()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
