"""S3-compatible object storage: one gzip JSON Lines object per tenant and stretch of seq,
``<prefix>/<tenant>/<yyyy>/<mm>/<dd>/<first>-<last>.jsonl.gz`` (the day the stretch's last
event was received, UTC), holding the batch — its proof line, its events and, unfiltered, the
signed manifest with the checkpoint that covers it. The key depends on the stretch alone, so
a retry writes the same object again. Accepted means the PUT succeeded."""

from __future__ import annotations

import gzip
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Destination
from kansa.streaming.senders import DeliveryFailed


def object_key(prefix: str, batch: Batch) -> str:
    received = str(batch.links[-1].columns.get("received_at", ""))[:10]
    year, month, day = received.split("-") if received.count("-") == 2 else ("0000", "00", "00")
    name = f"{batch.tenant}/{year}/{month}/{day}/{batch.first_seq}-{batch.last_seq}.jsonl.gz"
    return f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name


class ObjectSender:
    def __init__(self, destination: Destination, secret: str | None) -> None:
        config = destination.config
        self.bucket = str(config["bucket"])
        self.prefix = str(config.get("prefix", "kansa"))
        options: dict[str, Any] = {
            "endpoint_url": config.get("endpoint_url"),
            "region_name": config.get("region", "us-east-1"),
            "config": Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=30),
        }
        if config.get("access_key_id"):
            options["aws_access_key_id"] = config["access_key_id"]
            options["aws_secret_access_key"] = secret
        self.client = boto3.client("s3", **options)

    def send(self, batch: Batch) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=object_key(self.prefix, batch),
                Body=gzip.compress(batch.document()),
                ContentType="application/x-ndjson",
                Metadata={"kansa-delivery-id": batch.id},
            )
        except (BotoCoreError, ClientError) as exc:
            raise DeliveryFailed(f"S3 did not take the object: {exc}") from None

    def probe(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise DeliveryFailed(f"the bucket cannot be reached: {exc}") from None

    def close(self) -> None:
        self.client.close()
