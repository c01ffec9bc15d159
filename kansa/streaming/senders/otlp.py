"""OTLP/HTTP logs: one ``ExportLogsServiceRequest`` (protobuf) per batch, POSTed to the
configured logs endpoint (``http://collector:4318/v1/logs``). Each event is a log record whose
``event_name`` and ``event.name`` attribute are its action, timed by ``occurred_at`` (observed:
``received_at``), its severity from its level, its body the exact line kansa stored and hashed,
with ``kansa.tenant``, ``kansa.seq``, ``kansa.hash`` and ``kansa.batch``. The batch's proof
line comes first (``event.name`` ``kansa.batch``) and its signed manifest last
(``kansa.manifest``), so the bodies in order are the batch document. Any 2xx is accepted."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from kansa import __version__
from kansa.streaming.batches import Batch
from kansa.streaming.destinations import Destination
from kansa.streaming.senders import DeliveryFailed
from kansa.timeutil import parse_iso

CONTENT_TYPE = "application/x-protobuf"
SEVERITY = {"info": (9, "INFO"), "important": (10, "INFO2"), "warning": (13, "WARN")}
ERROR = (17, "ERROR")


def _text(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _nanos(moment: str) -> int:
    return int(parse_iso(moment).timestamp() * 1_000_000) * 1000


def _record(line: bytes, name: str, attributes: dict[str, Any], event: dict[str, Any]) -> LogRecord:
    number, text = SEVERITY.get(str(event.get("level")), ERROR) if event else (9, "INFO")
    record = LogRecord(
        severity_number=number,  # type: ignore[arg-type]
        severity_text=text,
        body=AnyValue(string_value=line.decode()),
        event_name=name,
        attributes=[_text("event.name", name)]
        + [
            KeyValue(key=k, value=AnyValue(int_value=v)) if isinstance(v, int) else _text(k, str(v))
            for k, v in attributes.items()
        ],
    )
    if event:
        record.time_unix_nano = _nanos(event["occurred_at"])
        record.observed_time_unix_nano = _nanos(event["received_at"])
    return record


def request_of(batch: Batch) -> ExportLogsServiceRequest:
    """The batch as one OTLP logs request."""
    common = {"kansa.tenant": batch.tenant, "kansa.batch": batch.id}
    records = [_record(batch.header(), "kansa.batch", common, {})]
    for link in batch.links:
        event = orjson.loads(link.body)["event"]
        more = {**common, "kansa.seq": link.seq, "kansa.hash": link.hash}
        records.append(_record(link.body, str(event["action"]), more, event))
    if batch.manifest is not None:
        records.append(_record(batch.manifest, "kansa.manifest", common, {}))
    resource = Resource(
        attributes=[_text("service.name", "kansa"), _text("kansa.tenant", batch.tenant)]
    )
    scope = InstrumentationScope(name="kansa", version=__version__)
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=resource, scope_logs=[ScopeLogs(scope=scope, log_records=records)]
            )
        ]
    )


class OtlpSender:
    def __init__(self, destination: Destination, secret: str | None) -> None:
        self.url = str(destination.config["url"])
        self.headers = {"content-type": CONTENT_TYPE}
        if secret:
            self.headers["authorization"] = f"Bearer {secret}"
        self.client = httpx.Client(timeout=float(destination.config.get("timeout", 10)))

    def _post(self, body: bytes) -> None:
        try:
            answer = self.client.post(self.url, content=body, headers=self.headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DeliveryFailed(f"OTLP collector unreachable: {type(exc).__name__}") from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryFailed(f"OTLP collector answered {answer.status_code}")

    def send(self, batch: Batch) -> None:
        self._post(request_of(batch).SerializeToString())

    def probe(self) -> None:
        """An empty export request: a collector takes it and stores nothing."""
        self._post(ExportLogsServiceRequest().SerializeToString())

    def close(self) -> None:
        self.client.close()
