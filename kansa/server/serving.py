"""``kansa serve`` under uvicorn: one process, or a supervising process and N workers.

**One process** (``--workers 1``, the default): the app, its writer, its background jobs
and — on ``KANSA_METRICS_ADDRESS`` — its metrics, all in the process that was started.

**N workers**: uvicorn starts N fresh processes that each build the app from the
environment (:func:`worker_app`, a factory) and share the listening socket.
The process that was started serves no request itself. It

- runs the background jobs, once for all workers: the workers get ``KANSA_JOBS=false``;
- makes a directory for the workers' metrics (prometheus-client's multiprocess mode,
  ``PROMETHEUS_MULTIPROC_DIR``), serves ``/metrics`` adding them up, and removes it on exit;
- passes on in the environment what the command line said (``--db``, ``--catalog`` …), so
  every worker reads the same settings;
- starts the one writer process every worker sends its events to
  (:class:`~kansa.server.writer_hub.Hub`, ``KANSA_WRITER_SOCKET``), so the workers' requests
  are committed together and never take turns on a tenant's row.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from kansa.server import heap, writer_process
from kansa.server.app import create_app
from kansa.server.jobs import Jobs
from kansa.server.logs import LogFormat, log_config
from kansa.server.metrics import MetricsServer, exposed
from kansa.server.runtime import Runtime
from kansa.server.writer_hub import Hub
from kansa.settings import Settings

FACTORY = "kansa.server.serving:worker_app"


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    log_format: LogFormat = "json",
    requests_log: bool = True,
    announce: Callable[[], None] = lambda: None,
) -> None:
    """Serve until stopped (SIGINT, SIGTERM). ``announce`` is called once the app (or the
    supervisor's runtime) is built — a bad catalog or layout file has stopped it before."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,  # kansa writes its own request line (kansa.server.requests)
        "proxy_headers": False,  # X-Forwarded-* are kansa's to judge (KANSA_TRUSTED_PROXIES)
        "log_config": log_config(log_format, requests_log),
        "loop": "auto",
        "http": "auto",
    }
    if workers == 1:
        application = create_app(settings)
        heap.settle()
        runtime: Runtime = application.state.kansa
        registry = exposed(
            runtime.metrics.registry, None, runtime.store, settings.metrics_max_tenants
        )
        announce()
        with _metrics(settings, registry):
            uvicorn.run(application, **options)
        return
    with _supervisor(settings) as (runtime, worker_dir):
        registry = exposed(
            None, runtime.metrics.jobs, runtime.store, settings.metrics_max_tenants, worker_dir
        )
        announce()
        with _metrics(settings, registry):
            uvicorn.run(FACTORY, factory=True, workers=workers, **options)


def worker_app() -> FastAPI:
    """A worker's app (uvicorn's factory): :func:`~kansa.server.app.create_app` from the
    environment, what it built set aside from the cycle collector (:mod:`kansa.server.heap`)."""
    application = create_app()
    heap.settle()
    return application


def worker_environment(settings: Settings, worker_dir: str) -> dict[str, str]:
    """What a worker needs in its environment beyond the one it inherits: the settings the
    command line changed, no jobs, and where its metrics go."""
    if settings.database_url_file is not None:  # the URL stays in its file
        database = {"KANSA_DATABASE_URL_FILE": str(settings.database_url_file)}
    else:
        database = {"KANSA_DATABASE_URL": settings.database_url}
    return database | {
        "KANSA_CATALOGS": ",".join(str(p) for p in settings.catalogs),
        "KANSA_LAYOUTS": ",".join(str(p) for p in settings.layouts),
        "KANSA_SCREENS": ",".join(str(p) for p in settings.screens),
        "KANSA_TRUSTED_PROXIES": ",".join(str(n) for n in settings.trusted_proxies),
        "KANSA_JOBS": "false",
        "PROMETHEUS_MULTIPROC_DIR": worker_dir,
    }


@contextmanager
def _supervisor(settings: Settings) -> Iterator[tuple[Runtime, str]]:
    """The supervising process's own runtime (store, jobs) and the workers' metrics directory."""
    worker_dir = tempfile.mkdtemp(prefix="kansa-metrics-")
    os.environ.update(worker_environment(settings, worker_dir))
    unused = "KANSA_DATABASE_URL" if settings.database_url_file else "KANSA_DATABASE_URL_FILE"
    os.environ.pop(unused, None)  # the workers must not find both
    hub = None
    try:
        # the workers append; this process's writer is not used, so no process of its own
        runtime = Runtime.from_settings(
            settings.model_copy(update={"writer_process": False, "writer_socket": None})
        )
    except BaseException:
        shutil.rmtree(worker_dir, ignore_errors=True)
        raise
    jobs = Jobs(runtime) if settings.jobs else None
    try:
        runtime.start()  # migrated before the hub opens the database
        if writer_process.wanted(settings):
            hub = Hub(settings.database_url, settings.commit_max_events)
            os.environ["KANSA_WRITER_SOCKET"] = hub.path
        if jobs is not None:
            jobs.start()
        yield runtime, worker_dir
    finally:
        if jobs is not None:
            jobs.stop()
        if hub is not None:  # after the workers, which have closed their connections to it
            hub.close()
            os.environ.pop("KANSA_WRITER_SOCKET", None)
        runtime.close()
        shutil.rmtree(worker_dir, ignore_errors=True)


@contextmanager
def _metrics(settings: Settings, registry: CollectorRegistry) -> Iterator[None]:
    if settings.metrics_address is None:
        yield
        return
    server = MetricsServer.start(settings.metrics_address, registry)
    try:
        yield
    finally:
        server.stop()
