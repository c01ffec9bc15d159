"""The HTTP application: ``create_app(settings)`` builds it on any store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from kansa import __version__, web
from kansa.api import catalog, errors, events, exports, health, holds, integrity, search, tokens
from kansa.events import EventIn
from kansa.jobs import Jobs
from kansa.runtime import Runtime
from kansa.settings import Settings


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, jobs: bool | None = None
) -> FastAPI:
    """The kansa web application. Give it ``settings`` (a store is opened and closed with the
    app) or a ready ``runtime`` (the caller owns it). ``jobs`` (default: when the app owns
    its runtime) runs checkpoints and purges in the background while the app is up."""
    owned = runtime is None
    rt = runtime or Runtime.from_settings(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            rt.start()
        background = Jobs(rt) if (owned if jobs is None else jobs) else None
        if background is not None:
            background.start()
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            if owned:
                rt.close()

    app = FastAPI(
        title="kansa",
        version=__version__,
        summary="Multi-tenant audit log: publish, search, export, verify.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.kansa = rt
    errors.install(app)
    app.include_router(events.router)
    app.include_router(search.router)
    app.include_router(exports.router)
    app.include_router(tokens.router)
    app.include_router(catalog.router)
    app.include_router(health.router)
    app.include_router(integrity.router)
    app.include_router(holds.router)
    app.include_router(web.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (EventIn, events.Batch):
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
    app.openapi_schema = schema
    return schema
