"""``GET /api/v1/events`` and ``GET /api/v1/events/{id}``: reading a tenant's log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from kansa.access.scope import Asked, permits, tenant_for
from kansa.errors import NotFound
from kansa.events.present import present
from kansa.events.query import Filters, parse_q
from kansa.events.query import Query as EventQuery
from kansa.events.terms import matched_by
from kansa.http.readers import AnyReader, AnyReading, Reading, client_ip, read_reading, runtime_of
from kansa.http.responses import JSON
from kansa.records import Tenant
from kansa.store.search import Page
from kansa.timeutil import parse_period_bound
from kansa.words import Lang, lang_of

router = APIRouter(prefix="/api/v1", tags=["search"])

Many = Annotated[list[str] | None, Query()]
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A parameter is wrong or outside the allowed period.", **_PROBLEM},
    401: {"description": "Missing, unknown or expired key or token.", **_PROBLEM},
    403: {"description": "The reader may not read this tenant or for this purpose.", **_PROBLEM},
    404: {"description": "No such tenant or event (for this reader).", **_PROBLEM},
}


def _many(values: list[str] | None) -> tuple[str, ...]:
    """Repeated parameters and comma-separated lists alike."""
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(out)


@dataclass(frozen=True, slots=True)
class LogQuery:
    """The period and filters a request of the log asks for — the same parameters for a
    search and an export."""

    from_: str | None
    to: str | None
    filters: Filters
    """The filters given as parameters; ``q``'s terms are added by :meth:`asked`."""
    q: str | None

    def asked(self, record: Tenant, **paging: Any) -> Asked:
        """What was asked of ``record``'s log: the period in its zone, the filters and the
        terms of ``q`` (checked here, once the reader is known, not before)."""
        return Asked(
            tenant=record.id,
            since=parse_period_bound(self.from_, record.tz, "from") if self.from_ else None,
            until=parse_period_bound(self.to, record.tz, "to", end=True) if self.to else None,
            filters=self.filters.merge(parse_q(self.q)) if self.q else self.filters,
            **paging,
        )


def log_query(
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    history: Many = None,
    category: Many = None,
    action: Many = None,
    group: Many = None,
    result: Many = None,
    level: Many = None,
    actor: str | None = None,
    actor_id: str | None = None,
    ip: str | None = None,
    target: str | None = None,
    target_id: str | None = None,
    service: str | None = None,
    q: str | None = None,
) -> LogQuery:
    """The query parameters of :class:`LogQuery` (a dependency of the routes reading the log)."""
    filters = Filters(
        histories=_many(history),
        categories=_many(category),
        actions=_many(action),
        groups=_many(group),
        results=_many(result),
        levels=_many(level),
        actor=actor or None,
        actor_id=actor_id or None,
        ip=ip or None,
        target=target or None,
        target_id=target_id or None,
        service=service or None,
    )
    return LogQuery(from_, to, filters, q)


@router.get("/events", summary="Search a tenant's events", responses=ERRORS)
async def search(
    request: Request,
    wanted: Annotated[LogQuery, Depends(log_query)],
    who: AnyReader,
    tenant: str | None = None,
    sort: str = "occurred_at",
    order: str = "desc",
    limit: int = 50,
    cursor: str | None = None,
    lang: str | None = None,
) -> JSON:
    """Events of one tenant the reader may see, newest first by default, with the rendered
    message in ``lang``. ``from``/``to`` take a date (the tenant's zone) or an ISO time with
    an offset; they default to the layout's window. ``next_cursor`` fetches the next page.
    ``q`` takes free text and ``field:value`` terms (see docs/api.md)."""
    runtime = runtime_of(request)
    asked = tenant_for(who, tenant or None)  # an empty ?tenant= asks for none, as elsewhere
    paging = {"sort": sort, "order": order, "limit": limit, "cursor": cursor}

    def read() -> tuple[Reading, Lang, EventQuery, Page]:
        # The tenant, the query the reader may have, and its page in one trip off the loop:
        # each trip is a thread's wake-up and the loop's, ~0.2 ms of a search.
        reading = read_reading(runtime, who, asked)
        language = lang_of(lang, reading.tenant.lang)
        query = reading.scope(wanted.asked(reading.tenant, **paging, lang=language))
        return reading, language, query, runtime.store.search(query)

    reading, language, query, page = await runtime.read(read)
    record = reading.tenant
    if record.record_searches:
        await runtime.record(
            who,
            record.id,
            "log.search",
            {"query": f"（{wanted.q}）" if wanted.q else None},
            client_ip(request),
        )
    return JSON(
        {
            "events": [present(e, runtime.catalog, language, tz=record.tz) for e in page.events],
            "next_cursor": page.next_cursor.encode() if page.next_cursor else None,
            "from": _iso(query.since),
            "to": _iso(query.until),
            "text_match": [{"term": term, "by": by} for term, by in matched_by(query.filters.text)],
        }
    )


@router.get("/events/{event_id}", summary="One event with every field", responses=ERRORS)
async def event(
    request: Request,
    event_id: str,
    reading: AnyReading,
    tenant: str | None = None,  # read by the reading dependency; declared here for /docs
    lang: str | None = None,
) -> JSON:
    """One event with every stored field, its chain position and hash. For a provisioning
    job, ``states`` lists every state of the job in order. Viewing is recorded in the
    tenant's log."""
    runtime, record = reading.runtime, reading.tenant
    query = reading.scope()
    found = await runtime.read(lambda: runtime.store.get_event(record.id, event_id))
    if found is None or not permits(query, found):
        raise NotFound(f"no event {event_id!r} in tenant {record.id!r}")
    language = lang_of(lang, record.lang)
    shown = present(found, runtime.catalog, language, tz=record.tz)
    job = found.get("correlation_id")
    if job:
        states = await runtime.read(lambda: runtime.store.job_states(record.id, job))
        shown["states"] = [
            present(s, runtime.catalog, language, tz=record.tz) for s in states if permits(query, s)
        ]
    await runtime.record(
        reading.reader, record.id, "log.event.view", {"event_id": event_id}, client_ip(request)
    )
    return JSON(shown)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
