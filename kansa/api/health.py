"""``/healthz``: is kansa up and can it reach its database."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import ORJSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
def healthz(request: Request) -> ORJSONResponse:
    store = request.app.state.kansa.store
    try:
        store.get_tenant("")
    except Exception as exc:  # noqa: BLE001 - any failure means the database is unreachable
        return ORJSONResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status_code=503
        )
    return ORJSONResponse({"status": "ok", "database": "ok"})
