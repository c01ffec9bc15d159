"""What ``kansa serve`` writes to its log, and how: one JSON object a line by default (for a
log shipper), or text for a person (``--log-format text``).

Every line has a UTC timestamp, the level, the logger and the message. Lines that describe
something — a request, a job round — carry its fields too: pass them as
``extra={"fields": {...}}``; JSON puts them beside the message, text appends ``key=value``.
The configuration is a ``logging.config.dictConfig`` mapping, so the worker processes of
``kansa serve --workers`` (started afresh by uvicorn) set up the same logging.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Literal

import orjson

LogFormat = Literal["json", "text"]

FIELDS = "fields"
"""The attribute of a log record holding its structured fields (``extra={"fields": …}``)."""


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    found = getattr(record, FIELDS, None)
    return dict(found) if isinstance(found, dict) else {}


_second: tuple[int, str] = (-1, "")
"""The last whole second written, and its text: a busy process writes many lines a second."""


def _timestamp(record: logging.LogRecord) -> str:
    """``2026-11-21T01:00:00.123Z``: the record's time in UTC, to the millisecond (its
    microseconds rounded as ``datetime.fromtimestamp`` rounds them, then cut)."""
    global _second
    fraction, whole = math.modf(record.created)
    seconds, micros = int(whole), round(fraction * 1_000_000)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    if _second[0] != seconds:
        _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{_second[1]}.{micros // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time``, ``level``, ``logger``, ``pid`` (which worker),
    ``message``, the record's
    fields, and ``error`` with the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for name, value in fields_of(record).items():
            line.setdefault(name, value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time level logger message key=value …`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname.lower(), record.name, record.getMessage()]
        parts += [f"{name}={value}" for name, value in fields_of(record).items()]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def log_config(log_format: LogFormat, requests: bool = True) -> dict[str, Any]:
    """The logging configuration of ``kansa serve``: kansa's loggers at INFO (``kansa.request``
    only when ``requests``), uvicorn's at WARNING (its access log stays off: kansa writes
    its own request line), everything to stderr in ``log_format``."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    handler = {"class": "logging.StreamHandler", "formatter": "kansa", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"kansa": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "kansa": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "kansa.request": {"level": "INFO" if requests else "WARNING"},
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"level": "WARNING"},
        },
    }
