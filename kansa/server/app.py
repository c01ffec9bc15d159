"""The HTTP application: ``create_app(settings)`` builds it on any store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from kansa import __version__, web
from kansa.api import (
    admin,
    catalog,
    destinations,
    erasures,
    events,
    exports,
    health,
    holds,
    integrity,
    search,
    stream,
    tokens,
)
from kansa.events.prepare import EventIn
from kansa.http import problems
from kansa.http.headers import DefaultHeaders
from kansa.http.limits import BodyLimit, NoNul, RateLimiter, rate_limit
from kansa.server import docs
from kansa.server.delivery import deliverer_for
from kansa.server.jobs import Jobs
from kansa.server.requests import Requests
from kansa.server.runtime import Runtime
from kansa.settings import Settings, load_settings


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, jobs: bool | None = None
) -> FastAPI:
    """The kansa web application. Give it ``settings`` (a store is opened and closed with the
    app) or a ready ``runtime`` (the caller owns it); with neither, settings are read from
    the environment, so uvicorn can call it as a factory (``kansa.server.app:create_app``,
    as ``kansa serve --workers`` does). ``jobs`` (default: when the app owns its runtime and
    ``KANSA_JOBS`` is on) runs checkpoints and purges in the background while the app is up."""
    owned = runtime is None
    rt = runtime or Runtime.from_settings(settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            rt.start()
        background = Jobs(rt) if (owned and rt.settings.jobs if jobs is None else jobs) else None
        if background is not None:
            background.start()
        delivery = deliverer_for(rt) if owned and rt.settings.deliver else None
        if delivery is not None:
            delivery.start()
        try:
            yield
        finally:
            if delivery is not None:  # off the loop: requests still streaming go on meanwhile
                await asyncio.to_thread(delivery.stop)
            if background is not None:
                background.stop()
            if owned:
                rt.close()

    app = FastAPI(
        title="kansa",
        version=__version__,
        summary="Multi-tenant audit log: publish, search, export, verify.",
        lifespan=lifespan,
        docs_url=None,  # served by kansa.server.docs, every file from kansa itself
        redoc_url=None,
    )
    app.state.kansa = rt
    limits = rt.settings
    app.state.rate_limiter = (
        RateLimiter(limits.rate_limit_per_second, limits.rate_limit_burst)
        if limits.rate_limit_per_second > 0
        else None
    )
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    app.add_middleware(NoNul)
    app.add_middleware(DefaultHeaders)
    app.add_middleware(Requests, metrics=rt.metrics, trusted=limits.trusted_proxies)  # outermost
    problems.install(app)
    limited = [Depends(rate_limit)]
    for api in (
        events,
        search,
        exports,
        tokens,
        catalog,
        integrity,
        holds,
        erasures,
        admin,
        destinations,
        stream,
    ):
        app.include_router(api.router, dependencies=limited)
    app.include_router(health.router)
    app.include_router(docs.router)
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
    components["Problem"] = PROBLEM_SCHEMA
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/"):
                _declare_errors(method, operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "Every error: a JSON problem document (see docs/api.md).",
    "required": ["status", "title", "detail", "problems"],
    "properties": {
        "status": {"type": "integer"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
ERRORS = {
    400: "A parameter is wrong, or the body is not valid JSON.",
    401: "Missing, unknown, revoked or expired key or token.",
    403: "The key or token may not do this, or not for this tenant.",
    404: "No such tenant, event or file (for this reader).",
    405: "The path does not take this method.",
    409: "The request conflicts with the state of the log.",
    429: "Too many requests for this key: wait as long as Retry-After says.",
    503: "The database cannot be used now (wait as long as Retry-After says), or kansa is not"
    " configured for this.",
}
BODY_ERRORS = {
    413: "The body is larger than KANSA_MAX_BODY_BYTES.",
    415: "The body is not JSON.",
    422: "The body is invalid; every problem is listed with its path.",
}


def _declare_errors(method: str, operation: dict[str, Any]) -> None:
    """Every error an API route can answer, each a Problem document (FastAPI's own 422
    shape is replaced: kansa never sends it)."""
    responses = operation.setdefault("responses", {})
    declared = dict(ERRORS)
    if method in ("post", "put", "patch", "delete"):
        declared.update(BODY_ERRORS)
    for status, description in declared.items():
        entry = responses.setdefault(str(status), {"description": description})
        entry["content"] = {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    retry = {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}
    responses["429"]["headers"] = {"Retry-After": retry}
    responses["503"]["headers"] = {"Retry-After": retry}
