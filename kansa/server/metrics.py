"""Prometheus metrics: what kansa counts, and where an operator reads it.

Each running app counts into its own :class:`Metrics` (a registry of its own, so tests build
apps side by side). ``kansa serve`` serves them on ``KANSA_METRICS_ADDRESS``, a port apart
from the API, never on the API's port (see docs/operations.md).

With ``kansa serve --workers N`` each worker process counts into files in a directory the
serving process made for it (prometheus-client's multiprocess mode, chosen by
``PROMETHEUS_MULTIPROC_DIR`` before a worker imports prometheus-client); the serving process
adds them up on each scrape (:func:`exposed`), with its own job counts and the tenants'
gauges, which it reads from the store at that moment (:class:`TenantCollector`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kansa.store import Store
from kansa.timeutil import utcnow

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
REFUSALS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    413: "too_large",
    415: "not_json",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}
"""Why a publish request was refused, by its status (any other is ``error``)."""
SIGNINS = {303: "success", 400: "bad_form", 401: "failure", 429: "throttled", 503: "unavailable"}
"""A console sign-in's outcome, by the status of its answer."""


class JobMetrics:
    """What the background jobs did: counted by the one process that runs them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.checkpoints = Counter(
            "kansa_checkpoints_signed",
            "Checkpoints signed by the background job.",
            registry=registry,
        )
        self.checkpoints_refused = Counter(
            "kansa_checkpoints_refused",
            "Checkpoints refused because a chain did not verify.",
            registry=registry,
        )
        self.purges = Counter(
            "kansa_purges", "Tenants purged by the background job.", registry=registry
        )
        self.purged_events = Counter(
            "kansa_purged_events", "Expired events pruned by purges.", registry=registry
        )
        self.purges_refused = Counter(
            "kansa_purges_refused",
            "Purges refused because expired events did not verify.",
            registry=registry,
        )
        self.failures = Counter(
            "kansa_job_failures", "Background job rounds that failed.", registry=registry
        )

    def collectors(self) -> list[Collector]:
        return [
            self.checkpoints,
            self.checkpoints_refused,
            self.purges,
            self.purged_events,
            self.purges_refused,
            self.failures,
        ]


class Metrics:
    """Everything one kansa process counts."""

    def __init__(self, registry: CollectorRegistry | None = None, *, jobs: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "kansa_requests", "HTTP requests answered.", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "kansa_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.events_accepted = Counter(
            "kansa_events_accepted", "Published events stored.", registry=r
        )
        self.events_duplicate = Counter(
            "kansa_events_duplicate",
            "Published events kansa already had (answered with their first receipt).",
            registry=r,
        )
        self.publish_refused = Counter(
            "kansa_publish_refused", "Publish requests refused, by reason.", ["reason"], registry=r
        )
        self.queue_depth = Gauge(
            "kansa_writer_queue_depth",
            "Append requests waiting for their commit.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.commit_events = Histogram(
            "kansa_writer_commit_events",
            "Events per writer transaction (group commit).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "kansa_store_errors",
            "Requests and job rounds the store failed, by error (StoreUnavailable …).",
            ["error"],
            registry=r,
        )
        self.signins = Counter(
            "kansa_console_signins",
            "Console sign-in attempts, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.lockouts = Counter(
            "kansa_console_lockouts",
            "Console sign-ins refused because the account is locked (the locking one included).",
            registry=r,
        )
        self.jobs = JobMetrics(r) if jobs else None
        """Only in the process that runs the jobs: a worker's files then hold none of them."""

    def store_error(self, error: BaseException) -> None:
        self.store_errors.labels(type(error).__name__).inc()


class TenantCollector(Collector):
    """Per tenant, read from the store on each scrape (one query for all tenants): the chain's
    head seq and the seconds since its last checkpoint. At most ``limit`` tenants (by id) get
    series of their own, so the number of series stays bounded; ``kansa_tenants`` counts all."""

    def __init__(self, store: Store, limit: int) -> None:
        self.store = store
        self.limit = limit

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tenants = sorted(self.store.list_tenants(), key=lambda t: t.id)
        now = utcnow()
        count = GaugeMetricFamily("kansa_tenants", "Tenants in the database.")
        count.add_metric([], len(tenants))
        head = GaugeMetricFamily(
            "kansa_chain_head_seq", "The seq of each tenant's newest event.", labels=["tenant"]
        )
        age = GaugeMetricFamily(
            "kansa_checkpoint_age_seconds",
            "Seconds since each tenant's last signed checkpoint (tenants with one).",
            labels=["tenant"],
        )
        for tenant in tenants[: self.limit]:
            head.add_metric([tenant.id], tenant.last_seq)
            if tenant.checkpoint_at is not None:
                age.add_metric([tenant.id], (now - tenant.checkpoint_at).total_seconds())
        yield from (count, head, age)


class DestinationCollector(Collector):
    """Per streaming destination, read from the store on each scrape: how far it lags behind
    (the most of any tenant's cursor: events, and seconds since the oldest event not yet
    delivered was received) and whether it is degraded. At most ``limit`` destinations."""

    def __init__(self, store: Store, limit: int) -> None:
        self.store = store
        self.limit = limit

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        labels = ["destination", "name", "kind"]
        events = GaugeMetricFamily(
            "kansa_destination_lag_events", "Events not yet delivered.", labels=labels
        )
        seconds = GaugeMetricFamily(
            "kansa_destination_lag_seconds",
            "Seconds since the oldest event not yet delivered was received.",
            labels=labels,
        )
        degraded = GaugeMetricFamily(
            "kansa_destination_degraded", "1 while deliveries keep failing.", labels=labels
        )
        for destination in self.store.list_destinations()[: self.limit]:
            cursors = self.store.cursors(destination.id)
            named = [destination.id, destination.name, destination.kind]
            events.add_metric(named, max((c.lag_events for c in cursors), default=0))
            seconds.add_metric(named, max((c.lag_seconds(now) for c in cursors), default=0.0))
            degraded.add_metric(named, int(any(c.degraded for c in cursors)))
        yield from (events, seconds, degraded)


def exposed(
    own: CollectorRegistry | None,
    jobs: JobMetrics | None,
    store: Store,
    max_tenants: int,
    worker_dir: str | None = None,
) -> CollectorRegistry:
    """The registry ``/metrics`` shows: this process's own (``own``), or the workers' files
    in ``worker_dir`` added up plus the ``jobs`` this process ran; and the tenants' gauges."""
    registry = CollectorRegistry()
    if worker_dir is not None:
        multiprocess.MultiProcessCollector(registry, path=worker_dir)  # type: ignore[no-untyped-call]
        for collector in jobs.collectors() if jobs is not None else []:
            registry.register(collector)
    elif own is not None:
        registry.register(_Forward(own))
    registry.register(TenantCollector(store, max_tenants))
    registry.register(DestinationCollector(store, max_tenants))
    return registry


class _Forward(Collector):
    """Another registry's metrics, as one collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[object]:  # type: ignore[override]
        return iter(self.registry.collect())


@dataclass
class MetricsServer:
    """The HTTP server of ``/metrics`` on its own address (a thread of this process)."""

    server: WSGIServer

    @classmethod
    def start(cls, address: str, registry: CollectorRegistry) -> MetricsServer:
        host, _, port = address.rpartition(":")
        server, _thread = start_http_server(int(port), host.strip("[]"), registry=registry)
        return cls(server)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
