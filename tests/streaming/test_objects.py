"""Delivery to S3-compatible storage, against moto's S3 server started by the test: one gzip
JSON Lines object per tenant and stretch at ``<prefix>/<tenant>/<yyyy>/<mm>/<dd>/<first>-<last>
.jsonl.gz``, every event in order, and the bucket's copy verifies with ``kansa verify``."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from kansa.catalog import Catalog
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.streaming import manage
from kansa.streaming.destinations import parse_spec
from kansa.streaming.sealing import Sealer
from kansa.streaming.senders import probed
from kansa.streaming.worker import Deliverer
from tests.helpers import wait_for
from tests.net import free_port
from tests.streaming.conftest import Publish, verified

KEY_ID, SECRET = "AKIAKANSATEST", "kansa-test-secret-access-key"


@pytest.fixture
def s3_endpoint(tmp_path: Path) -> Iterator[str]:
    """moto's S3 server on a free port, for this test alone."""
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
    )
    endpoint = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code < 500
        except httpx.TransportError:
            return False

    try:
        wait_for(up, timeout=30, what="moto's S3 server")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def test_objects_per_stretch_hold_every_event_and_verify(
    fresh_store: Store,
    fresh_url: str,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    s3_endpoint: str,
    tmp_path: Path,
) -> None:
    client = _client(s3_endpoint)
    client.create_bucket(Bucket="audit")
    publish("acme", 20)
    spec = parse_spec(
        {
            "name": "archive",
            "kind": "s3",
            "start": "beginning",
            "config": {
                "endpoint_url": s3_endpoint,
                "bucket": "audit",
                "prefix": "kansa/prod",
                "access_key_id": KEY_ID,
                "batch_size": 6,
            },
            "secret": SECRET,
        }
    )
    made = manage.add(fresh_store, signer, spec, "acme", secret_given=True).destination
    assert probed(made, Sealer(signer)) is None
    deliverer = Deliverer(fresh_store, catalog, signer)
    deliverer.start()
    try:
        publish("acme", 10)  # published while delivery runs
        wait_for(lambda: fresh_store.cursors(made.id)[0].delivered_seq == 30, timeout=30, what="30")
    finally:
        deliverer.stop()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="audit")["Contents"]]
    shape = re.compile(r"^kansa/prod/acme/\d{4}/\d{2}/\d{2}/(\d+)-(\d+)\.jsonl\.gz$")
    assert all(shape.match(k) for k in keys), keys
    stretches = sorted(tuple(int(n) for n in shape.match(k).groups()) for k in keys)  # type: ignore[union-attr]
    assert stretches[0] == (1, 6) and stretches[-1][1] == 30
    folder = tmp_path / "bucket"
    seqs: list[int] = []
    for key in keys:
        body = client.get_object(Bucket="audit", Key=key)["Body"].read()
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        seqs += [
            int(line.split(b'"seq":')[1].rstrip(b"}"))
            for line in gzip.decompress(body).splitlines()
            if line.startswith(b'{"event"')
        ]
    assert sorted(seqs) == list(range(1, 31)) and len(seqs) == 30
    assert "tenant acme: seq 1-30" in verified(folder, fresh_url)


def test_a_missing_bucket_is_refused_and_the_cursor_waits(
    fresh_store: Store, catalog: Catalog, signer: Signer, publish: Publish, s3_endpoint: str
) -> None:
    client = _client(s3_endpoint)
    client.create_bucket(Bucket="audit")
    publish("acme", 3)
    spec = parse_spec(
        {
            "name": "archive",
            "kind": "s3",
            "start": "beginning",
            "config": {"endpoint_url": s3_endpoint, "bucket": "missing-bucket"},
        }
    )
    made = manage.add(fresh_store, signer, spec, "acme", secret_given=True).destination
    assert "cannot be reached" in (probed(made, Sealer(signer)) or "")
    deliverer = Deliverer(fresh_store, catalog, signer)
    try:
        assert deliverer.run_once().failures == 1
    finally:
        deliverer.stop()
    (cursor,) = fresh_store.cursors(made.id)
    assert cursor.delivered_seq == 0 and "S3 did not take the object" in (cursor.last_error or "")
