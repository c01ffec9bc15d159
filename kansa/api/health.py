"""``/healthz``: is kansa up and can it reach its database (liveness). ``/readyz``: can it do
its work now (readiness): the database takes a write, a SQLite database's directory has
``KANSA_READY_MIN_FREE_MB`` free, and the key that signs checkpoints is there."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi import APIRouter, Request

from kansa.dburl import path_of
from kansa.http.problems import RETRY_AFTER_SECONDS
from kansa.http.readers import runtime_of
from kansa.http.responses import JSON

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Liveness and database reachability",
    responses={503: {"description": "The database cannot be reached."}},
)
def healthz(request: Request) -> JSON:
    store = request.app.state.kansa.store
    try:
        store.get_tenant("")
    except Exception as exc:  # noqa: BLE001 - any failure means the database is unreachable
        return JSON({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    return JSON({"status": "ok", "database": "ok"})


@router.get(
    "/readyz",
    summary="Readiness: database writable, disk space, signing key",
    responses={503: {"description": "A check failed (named in `failed`); see Retry-After."}},
)
def readyz(request: Request) -> JSON:
    checks = {
        "database": _database(request),
        "disk": _disk(request),
        "signing_key": _signing_key(request),
    }
    failed = [name for name, result in checks.items() if result != "ok"]
    if failed:
        body = {"status": "unavailable", "failed": failed, "checks": checks}
        return JSON(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return JSON({"status": "ok", "checks": checks})


def _database(request: Request) -> str:
    try:
        runtime_of(request).store.check_writable()
    except Exception as exc:  # noqa: BLE001 - any failure means no write can be done now
        return f"not writable ({type(exc).__name__})"
    return "ok"


def _disk(request: Request) -> str:
    settings = runtime_of(request).settings
    if not settings.database_url.startswith("sqlite:"):
        return "ok"  # PostgreSQL's disk is the server's to watch
    path = path_of(settings.database_url)
    if path == ":memory:":
        return "ok"
    free = shutil.disk_usage(Path(path).resolve().parent).free // (1024 * 1024)
    if free < settings.ready_min_free_mb:
        return f"{free} MiB free, below {settings.ready_min_free_mb} MiB"
    return "ok"


def _signing_key(request: Request) -> str:
    try:
        runtime_of(request).signer()
    except Exception as exc:  # noqa: BLE001 - a missing or unreadable key is not ready
        return f"missing ({type(exc).__name__})"
    return "ok"
