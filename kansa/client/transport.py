"""One publish request: a batch of spooled events in, one of three outcomes out.

* :class:`Accepted` — a 200/201 whose receipts cover every event sent, in order;
* :class:`Retry` — worth sending again later: a network error, a 429, a 5xx, or a reply
  that does not cover the batch;
* :class:`Refused` — any other 4xx: sending the same bytes again cannot succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from kansa import __version__
from kansa.client.backoff import parse_retry_after

PUBLISH_PATH = "api/v1/events"


@dataclass(frozen=True, slots=True)
class Accepted:
    receipts: list[dict[str, Any]]
    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str
    retry_after: float | None = None
    status: int | None = None
    """The server's answer, if one came."""

    @property
    def suspect(self) -> bool:
        """An error the server gave for this request itself (500 and its like), as opposed
        to being away, busy or behind a proxy that could not reach it (502, 503, 504, 429,
        no answer): what the events sent might have caused."""
        return self.status is not None and self.status >= 500 and self.status not in AWAY


AWAY = (502, 503, 504)


@dataclass(frozen=True, slots=True)
class Refused:
    status: int
    detail: str
    problems: list[dict[str, str]]


Outcome = Accepted | Retry | Refused


class Transport:
    """Posts batches to one kansa with one API key, over a kept-alive connection."""

    def __init__(self, url: str, api_key: str, *, timeout: float) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/") + "/",
            headers={
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "User-Agent": f"kansa-client/{__version__}",
            },
            timeout=timeout,
        )

    def send(self, ids: Sequence[str], bodies: Sequence[bytes]) -> Outcome:
        """Post ``{"events": [...]}`` made of the already-encoded ``bodies``."""
        content = b'{"events":[' + b",".join(bodies) + b"]}"
        try:
            reply = self._http.post(PUBLISH_PATH, content=content)
        except httpx.RequestError as exc:
            return Retry(f"{type(exc).__name__}: {exc}")
        status = reply.status_code
        if status in (200, 201):
            return _accepted(reply, ids)
        if status == 429 or status >= 500 or status < 400:
            after = parse_retry_after(reply.headers.get("retry-after"))
            return Retry(f"HTTP {status}", after, status)
        detail, problems = _problem(reply)
        return Refused(status, detail, problems)

    def close(self) -> None:
        self._http.close()


def _accepted(reply: httpx.Response, ids: Sequence[str]) -> Outcome:
    try:
        body = reply.json()
        receipts = body["events"]
        covered = isinstance(receipts, list) and [r["client_id"] for r in receipts] == list(ids)
    except (ValueError, KeyError, TypeError):
        covered = False
    if not covered:
        return Retry(f"HTTP {reply.status_code} without a receipt for every event sent")
    duplicates = sum(1 for r in receipts if r.get("duplicate"))
    return Accepted(receipts, len(receipts) - duplicates, duplicates)


def _problem(reply: httpx.Response) -> tuple[str, list[dict[str, str]]]:
    """The detail and problems of a JSON problem document, or the start of the body."""
    try:
        body = orjson.loads(reply.content)
    except orjson.JSONDecodeError:
        return reply.text[:500] or reply.reason_phrase, []
    if not isinstance(body, dict):
        return str(body)[:500], []
    problems = [
        {"path": str(p.get("path", "")), "message": str(p.get("message", ""))}
        for p in body.get("problems") or []
        if isinstance(p, dict)
    ]
    return str(body.get("detail") or body.get("title") or reply.reason_phrase), problems
