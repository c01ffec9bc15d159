"""The console's static files (one stylesheet, one script), served by the app itself."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import FileResponse, Response

from kansa.errors import NotFound
from kansa.web.render import STATIC
from kansa.web.routing import router

FILES = {"console.css": "text/css", "console.js": "text/javascript"}


@router.get("/static/{name}")
async def static_file(request: Request, name: str) -> Response:
    media = FILES.get(name)
    if media is None:
        raise NotFound(f"no static file {name!r}")
    response = FileResponse(STATIC / name, media_type=f"{media}; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
