"""An HTTP(S) webhook signed per the Standard Webhooks specification: ``webhook-id`` (the
batch's id, the same on every retry), ``webhook-timestamp`` and ``webhook-signature``
(``v1,`` and base64 HMAC-SHA256 of ``id.timestamp.body`` under the ``whsec_`` secret). The
body is the batch as JSON Lines; any 2xx answer means accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import httpx

from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Destination
from kansa.streaming.senders import DeliveryFailed

CONTENT_TYPE = "application/x-ndjson"
TEST_DOCUMENT = b'{"test":{"type":"kansa.test.v1"}}\n'
"""What ``test`` sends: a receiver may take it and drop it."""


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of ``body``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = b"%b.%d.%b" % (msg_id.encode(), timestamp, body)
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookSender:
    def __init__(self, destination: Destination, secret: str | None) -> None:
        if secret is None:
            raise DeliveryFailed("the webhook has no signing secret")
        self.url = str(destination.config["url"])
        self.secret = secret
        timeout = float(destination.config.get("timeout", 10))
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, batch: Batch) -> None:
        extra = {
            "kansa-tenant": batch.tenant,
            "kansa-first-seq": str(batch.first_seq),
            "kansa-last-seq": str(batch.last_seq),
        }
        self._post(batch.id, batch.document(), extra)

    def probe(self) -> None:
        """A signed test document: ``{"test":{"type":"kansa.test.v1"}}``, its own id."""
        self._post(f"test-{secrets.token_hex(8)}", TEST_DOCUMENT, {})

    def _post(self, msg_id: str, body: bytes, extra: dict[str, str]) -> None:
        now = int(time.time())
        headers = {
            "content-type": CONTENT_TYPE,
            "webhook-id": msg_id,
            "webhook-timestamp": str(now),
            "webhook-signature": sign(self.secret, msg_id, now, body),
            **extra,
        }
        try:
            answer = self.client.post(self.url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DeliveryFailed(f"webhook unreachable: {type(exc).__name__}: {exc}") from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryFailed(f"webhook answered {answer.status_code}")

    def close(self) -> None:
        self.client.close()
