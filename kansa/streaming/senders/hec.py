"""Splunk HTTP Event Collector: one ``POST /services/collector/event`` per batch, its events
as HEC's JSON envelopes one after another (``time``, ``source``, ``sourcetype``, ``index``,
``event``, ``fields``) — first the batch's proof (sourcetype ``<sourcetype>:batch``), then each
event with its seq, hash and prev_hash — and the token in ``Authorization: Splunk <token>``.

With ``ack`` on (HEC indexer acknowledgement), the answer's ``ackId`` is polled at
``/services/collector/ack`` on the destination's channel until Splunk says it is indexed:
only then is the batch accepted, so "sent" means "indexed"."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import orjson

from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Destination
from kansa.streaming.senders import DeliveryFailed
from kansa.timeutil import parse_iso

ACK_SECONDS = 60.0
ACK_POLL = 0.5


class HecSender:
    def __init__(self, destination: Destination, secret: str | None) -> None:
        if secret is None:
            raise DeliveryFailed("the HEC destination has no token")
        config = destination.config
        self.base = str(config["url"]).rstrip("/")
        self.index = config.get("index")
        self.sourcetype = str(config.get("sourcetype", "kansa:event"))
        self.ack = bool(config.get("ack", False))
        channel = uuid.uuid5(uuid.NAMESPACE_URL, f"kansa:{destination.id}")
        self.headers = {
            "Authorization": f"Splunk {secret}",
            "X-Splunk-Request-Channel": str(channel),
        }
        timeout = float(config.get("timeout", 10))
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def _envelope(self, event: Any, moment: float, sourcetype: str, batch: Batch) -> bytes:
        envelope: dict[str, Any] = {
            "time": moment,
            "source": "kansa",
            "sourcetype": sourcetype,
            "event": event,
            "fields": {"kansa_tenant": batch.tenant, "kansa_batch": batch.id},
        }
        if self.index:
            envelope["index"] = self.index
        return orjson.dumps(envelope)

    def body(self, batch: Batch) -> bytes:
        now = time.time()
        parts = [self._envelope(batch.proof_record(), now, f"{self.sourcetype}:batch", batch)]
        for record in batch.records():
            occurred = parse_iso(record["event"]["occurred_at"]).timestamp()
            parts.append(self._envelope(record, occurred, self.sourcetype, batch))
        return b"\n".join(parts)

    def _post(self, path: str, content: bytes) -> dict[str, Any]:
        try:
            answer = self.client.post(self.base + path, content=content, headers=self.headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DeliveryFailed(f"HEC unreachable: {type(exc).__name__}: {exc}") from None
        try:
            reply = answer.json()
        except ValueError:
            reply = {}
        if answer.status_code != 200 or not isinstance(reply, dict) or reply.get("code", 0):
            raise DeliveryFailed(f"HEC answered {answer.status_code}: {str(reply)[:200]}")
        return reply

    def send(self, batch: Batch) -> None:
        reply = self._post("/services/collector/event", self.body(batch))
        if self.ack:
            self._wait_indexed(reply.get("ackId"))

    def _wait_indexed(self, ack_id: Any) -> None:
        if not isinstance(ack_id, int):
            raise DeliveryFailed("HEC gave no ackId: is indexer acknowledgement on?")
        deadline = time.monotonic() + ACK_SECONDS
        while time.monotonic() < deadline:
            acks = self._post("/services/collector/ack", orjson.dumps({"acks": [ack_id]}))
            if (acks.get("acks") or {}).get(str(ack_id)) is True:
                return
            time.sleep(ACK_POLL)
        raise DeliveryFailed(f"HEC did not confirm ackId {ack_id} indexed in {ACK_SECONDS:.0f} s")

    def probe(self) -> None:
        try:
            answer = self.client.get(self.base + "/services/collector/health", headers=self.headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DeliveryFailed(f"HEC unreachable: {type(exc).__name__}: {exc}") from None
        if answer.status_code != 200:
            raise DeliveryFailed(f"HEC health answered {answer.status_code}")

    def close(self) -> None:
        self.client.close()
