"""``/healthz``: is kansa up and can it reach its database."""

from __future__ import annotations

from fastapi import APIRouter, Request

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
