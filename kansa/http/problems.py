"""One place where kansa's errors become HTTP answers: JSON problem documents."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kansa.errors import (
    AuthError,
    ConfigError,
    Conflict,
    Forbidden,
    IntegrityError,
    InvalidInput,
    InvalidQuery,
    KansaError,
    NotFound,
    Problem,
    StoreUnavailable,
)
from kansa.http.responses import JSON

log = logging.getLogger("kansa.api")

STATUS: list[tuple[type[KansaError], int, str]] = [
    (InvalidQuery, 400, "Invalid query"),
    (InvalidInput, 422, "Invalid input"),
    (AuthError, 401, "Not authenticated"),
    (Forbidden, 403, "Forbidden"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (IntegrityError, 409, "Chain broken"),
    (ConfigError, 503, "Not configured"),
]


RETRY_AFTER_SECONDS = 5
"""What a 503 for a database that cannot be used now tells the client to wait."""


class HTTPProblem(KansaError):
    """An answer decided at the HTTP edge itself (415, 429, 400 for a body that is not
    JSON), with any headers it needs (``Retry-After``)."""

    def __init__(
        self,
        status: int,
        title: str,
        problems: list[Problem],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(problems[0].message if problems else title)
        self.status, self.title, self.problems = status, title, problems
        self.headers = headers or {}


class BodyTooLarge(HTTPException):
    """A request body over the limit (413), raised while the body is read. An HTTPException
    so that it passes through FastAPI's own body parsing unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "Payload too large")
        self.problems = [
            Problem("body", f"the body is larger than {limit} bytes; send smaller batches")
        ]


def problem(
    status: int,
    title: str,
    detail: str,
    problems: list[Problem],
    headers: Mapping[str, str] | None = None,
) -> JSON:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSON(
        {
            "status": status,
            "title": title,
            "detail": detail,
            "problems": [p.as_dict() for p in problems],
        },
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def too_large(exc: BodyTooLarge) -> JSON:
    """413: the body passed the limit while it was read."""
    return problem(413, str(exc.detail), exc.problems[0].message, exc.problems)


def unavailable() -> JSON:
    """503: the database cannot be used now; the same request may be sent again later."""
    detail = f"the database is unavailable; retry after {RETRY_AFTER_SECONDS} s"
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return problem(503, "Service unavailable", detail, [], headers)


def answer(exc: KansaError, store_error: Callable[[BaseException], None]) -> JSON:
    """The answer to ``exc``; ``store_error`` counts a failure of the store."""
    if isinstance(exc, HTTPProblem):
        return problem(exc.status, exc.title, str(exc), exc.problems, exc.headers)
    if isinstance(exc, StoreUnavailable):  # the driver's words go to the log only
        log.warning("database unavailable: %s", exc)
        store_error(exc)
        return unavailable()
    for kind, status, title in STATUS:
        if isinstance(exc, kind):
            problems = exc.problems if isinstance(exc, InvalidInput) else []
            return problem(status, title, str(exc), problems)
    log.error("request failed: %s", exc)
    store_error(exc)
    return problem(503, "Service unavailable", "the store could not complete the request", [])


def install(app: FastAPI) -> None:
    async def kansa_error(request: Request, exc: Exception) -> JSON:
        assert isinstance(exc, KansaError)
        return answer(exc, request.app.state.kansa.metrics.store_error)

    async def validation_error(request: Request, exc: Exception) -> JSON:
        """A body that fails its model is invalid input (422); a bad query or path
        parameter is a bad request (400). Paths name the field as the client wrote it."""
        assert isinstance(exc, RequestValidationError)
        problems = []
        in_body = False
        for error in exc.errors():
            where, *rest = error["loc"] or ("body",)
            in_body = in_body or where == "body"
            path = ""
            for part in rest or ([] if where == "body" else [where]):
                path = (
                    f"{path}[{part}]"
                    if isinstance(part, int)
                    else (f"{path}.{part}" if path else str(part))
                )
            message = "is required" if error["type"] == "missing" else str(error["msg"])
            problems.append(Problem(path or "body", message))
        status, title = (422, "Invalid input") if in_body else (400, "Invalid request")
        detail = f"{problems[0].path}: {problems[0].message}" if problems else title
        return problem(status, title, detail, problems)

    async def http_error(request: Request, exc: Exception) -> JSON:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc, BodyTooLarge):
            return too_large(exc)
        return problem(exc.status_code, str(exc.detail), str(exc.detail), [], exc.headers)

    app.add_exception_handler(KansaError, kansa_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
