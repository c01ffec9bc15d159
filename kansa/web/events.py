"""One event with every field: a page, or a fragment the log screen shows in a dialog.
Opening it is recorded in the tenant's log (``log.event.view``), as the API does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from kansa.access.scope import permits
from kansa.catalog.columns import local_time, result_tone, text_of
from kansa.errors import NotFound
from kansa.events.present import present
from kansa.events.stored import PresentedEvent, TargetOf
from kansa.http.readers import client_ip
from kansa.web.context import Context, current
from kansa.web.i18n import translate
from kansa.web.render import page
from kansa.web.routing import router

HIDDEN = {"message", "messages", "labels", "v"}


def pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def fields_of(ctx: Context, shown: PresentedEvent) -> list[tuple[str, str]]:
    """The event's fields as (label, text) rows, in the reader's language."""
    labels: dict[str, str] = shown.get("labels") or {}
    actor: Mapping[str, Any] = shown.get("actor") or {}
    error: Mapping[str, Any] = shown.get("error") or {}
    tz = ctx.tenant.tz
    rows = [
        ("field.occurred_at", local_time(shown.get("occurred_at"), tz)),
        ("field.received_at", local_time(shown.get("received_at"), tz)),
        ("field.level", labels.get("level", "")),
        ("field.history", labels.get("history", "")),
        ("field.category", labels.get("category", "")),
        ("field.action_label", labels.get("action", "")),
        ("field.action", text_of(shown.get("action"))),
        ("field.result", labels.get("result", text_of(shown.get("result")))),
        ("field.message", text_of(shown.get("message"))),
        ("field.app", text_of(shown.get("app"))),
        ("field.actor_name", text_of(actor.get("name"))),
        ("field.actor_login", text_of(actor.get("login"))),
        ("field.actor_id", text_of(actor.get("id"))),
        ("field.actor_email", text_of(actor.get("email"))),
        ("field.ip", text_of(shown.get("ip"))),
        ("field.user_agent", text_of(shown.get("user_agent"))),
        ("field.trace_id", text_of(shown.get("trace_id"))),
        ("field.correlation_id", text_of(shown.get("correlation_id"))),
        (
            "field.error",
            " ".join(text_of(v) for v in (error.get("code"), error.get("message")) if v),
        ),
        ("field.id", text_of(shown.get("id"))),
        ("field.client_id", text_of(shown.get("client_id"))),
        ("field.seq", text_of(shown.get("seq"))),
        ("field.hash", text_of(shown.get("hash"))),
    ]
    return [(translate(ctx.lang, key), value) for key, value in rows if value]


def params_of(ctx: Context, shown: PresentedEvent) -> list[tuple[str, str]]:
    product = ctx.runtime.catalog.products.get(str(shown.get("product", "")))
    out = []
    for name, value in (shown.get("params") or {}).items():
        label = product.fields.get(name) if product else None
        out.append((label.get(ctx.lang) if label else name, text_of(value)))
    for target in shown.get("targets") or []:
        out.append((translate(ctx.lang, "field.targets"), _target(target)))
    return out


def _target(target: TargetOf) -> str:
    name = target.get("name") or target.get("login") or ""
    ident = target.get("id") or ""
    return f"{name} ({ident})" if name and ident and name != ident else str(name or ident)


@router.get("/events/{event_id}")
async def event_detail(request: Request, event_id: str) -> Response:
    ctx = await current(request)
    runtime = ctx.runtime
    query = ctx.reading.scope()
    found = await runtime.read(lambda: runtime.store.get_event(ctx.tenant.id, event_id))
    if found is None or not permits(query, found):
        raise NotFound(f"no event {event_id!r}")
    shown = present(found, runtime.catalog, ctx.lang, tz=ctx.tenant.tz)
    states: list[PresentedEvent] = []
    job = found.get("correlation_id")
    if job:
        every = await runtime.read(lambda: runtime.store.job_states(ctx.tenant.id, job))
        states = [
            present(s, runtime.catalog, ctx.lang, tz=ctx.tenant.tz)
            for s in every
            if permits(query, s)
        ]
    await runtime.record(
        ctx.reader, ctx.tenant.id, "log.event.view", {"event_id": event_id}, client_ip(request)
    )
    raw = {k: v for k, v in found.items() if k not in HIDDEN}
    template = "event_dialog.html" if request.query_params.get("fragment") else "event.html"
    return page(
        request,
        template,
        ctx.lang,
        me=ctx,
        event=shown,
        fields=fields_of(ctx, shown),
        params=params_of(ctx, shown),
        details=pretty(found["details"]) if found.get("details") is not None else None,
        raw=pretty(raw),
        states=states,
        tz=ctx.tenant.tz,
        local_time=local_time,
        tone=result_tone,
        back=request.query_params.get("back", ""),
    )
