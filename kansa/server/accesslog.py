"""The request lines ``kansa serve --access-log`` writes, with credentials in them hidden.

A host product opens the console with ``/console/enter?token=…``: the viewer token is a
bearer credential for its lifetime, so it must not reach a log file. uvicorn's access log
record carries the path with its query string as its third argument; this filter rewrites
the value of every credential-bearing query parameter to ``[redacted]`` before it is written.
A parameter's name counts as it is decoded (``%74oken`` is ``token``), as the server reads it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

SECRET_PARAMS = frozenset({"token", "key", "api_key", "password", "csrf"})

_PARAM = re.compile(r"(?P<lead>^|[?&;])(?P<name>[^=&;#?\s]*)=(?P<value>[^&;#\s]*)")


def redact(path: str) -> str:
    """``path`` with the values of its credential query parameters replaced."""
    start = path.find("?")
    if start < 0:
        return path
    return path[:start] + _PARAM.sub(_hide, path[start:])


def _hide(match: re.Match[str]) -> str:
    name = match.group("name")
    if unquote_plus(name).strip().lower() not in SECRET_PARAMS:
        return match.group(0)
    return f"{match.group('lead')}{name}=[redacted]"


class RedactCredentials(logging.Filter):
    """Hides credentials in the request paths of uvicorn's access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install(logger_name: str = "uvicorn.access") -> None:
    """Add the filter to the access logger (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
