"""``/docs``: the API's reference in Swagger UI, every file served by kansa itself (from the
``fastapi-offline`` package, which ships Swagger UI 5), so the page works without internet
and loads no script from another origin. Its Content-Security-Policy allows scripts and
styles from kansa only (Swagger UI sets inline style attributes, so styles allow those)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from kansa.errors import NotFound

HERE = Path(__file__).resolve().parent / "docs"
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon.png": "image/png",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def page() -> Response:
    return FileResponse(HERE / "index.html", media_type="text/html", headers=_csp())


@router.get("/docs/start.js")
def start() -> Response:
    return FileResponse(HERE / "start.js", media_type="text/javascript", headers=_csp())


@router.get("/docs/assets/{name}")
def asset(name: str) -> Response:
    kind = ASSETS.get(name)
    if kind is None:
        raise NotFound(f"no file {name!r} under /docs/assets")
    path = Path(str(files("fastapi_offline") / "static" / name))
    return FileResponse(path, media_type=kind, headers=_csp() | {"Cache-Control": "max-age=86400"})


def _csp() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
