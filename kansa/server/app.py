"""The HTTP application: ``create_app(settings)`` builds it on any store."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, params
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

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
from kansa.http.limits import BodyLimit, NoNul, RateLimiter, rate_limit
from kansa.server import docs
from kansa.server.delivery import deliverer_for
from kansa.server.jobs import Jobs
from kansa.server.publishing import FastPublish
from kansa.server.requests import Requests
from kansa.server.runtime import Runtime
from kansa.server.searching import FastSearch
from kansa.settings import Settings, load_settings


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    jobs: bool | None = None,
    *,
    fast_publish: bool = True,
    fast_search: bool = True,
) -> FastAPI:
    """The kansa web application. Give it ``settings`` (a store is opened and closed with the
    app) or a ready ``runtime`` (the caller owns it); with neither, settings are read from
    the environment, so uvicorn can call it as a factory (``kansa.server.app:create_app``,
    as ``kansa serve --workers`` does). ``jobs`` (default: when the app owns its runtime and
    ``KANSA_JOBS`` is on) runs checkpoints and purges in the background while the app is up.
    ``fast_publish`` (default on) serves a plain publish without FastAPI's machinery
    (:mod:`kansa.server.publishing`); off, the FastAPI route serves every publish, with the
    same answers. ``fast_search`` (default on) likewise serves a plain search
    (:mod:`kansa.server.searching`)."""
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
    problems.install(app)
    app.router.routes.extend(_routes())
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if fast_search:  # innermost: the NUL check and the body limit come first
        app.add_middleware(
            FastSearch, runtime=rt, limiter=app.state.rate_limiter, route=_search_route(app)
        )
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    app.add_middleware(NoNul)
    if fast_publish:
        app.add_middleware(
            FastPublish, runtime=rt, limiter=app.state.rate_limiter, route=_publish_route(app)
        )
    app.add_middleware(  # outermost; adds the default headers (kansa.http.headers) too
        Requests, metrics=rt.metrics, trusted=limits.trusted_proxies
    )
    return app


def _publish_route(app: FastAPI) -> APIRoute:
    return _route_of(app, events.publish)


def _search_route(app: FastAPI) -> APIRoute:
    return _route_of(app, search.search)


def _route_of(app: FastAPI, endpoint: Callable[..., Any]) -> APIRoute:
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            return route
    raise LookupError(f"the app has no route for {endpoint.__name__}")


@functools.cache
def _routes() -> tuple[BaseRoute, ...]:
    """Every route of kansa's API, docs and console, built once per process and shared by
    the apps it makes (a route holds no app: it reaches the runtime through the request's
    app). Building them — FastAPI reads each endpoint's signature and makes its models — took
    ~25 ms of CPU an app."""
    built = APIRouter()
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
        _include(built, api.router, limited)
    for router in (health.router, docs.router, web.router):
        _include(built, router)
    return tuple(built.routes)


def _include(
    built: APIRouter, router: APIRouter, dependencies: Sequence[params.Depends] = ()
) -> None:
    """``router``'s routes added to ``built`` as plain routes, ``dependencies`` run first:
    what ``app.include_router`` means, done once here. An included router is matched anew
    on every request, through a context per inclusion and route, which cost more than all
    the rest of a 404; the app's own routes are matched by their pattern alone. The OpenAPI
    document and every route's behaviour are the same."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only API routes are made the app's own")
        built.add_api_route(
            route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=[*dependencies, *route.dependencies],
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            route_class_override=type(route),
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
            strict_content_type=route.strict_content_type,
            max_body_size=route.max_body_size,
            form_limits=route.form_limits,
        )


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
