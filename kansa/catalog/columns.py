"""The columns a console table can show, and the text of one cell. Every value here comes
from an event and is untrusted: it is returned as plain text and the templates escape it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kansa.catalog import Catalog, Label
from kansa.events.stored import PresentedEvent

GOOD_RESULTS = frozenset({"success", "ok", "done"})
PENDING_RESULTS = frozenset({"processing"})


@dataclass(frozen=True, slots=True)
class Field:
    label: Label
    sort: str | None = None
    """The search ``sort`` this column orders by — what the cell shows (an action by its
    label, a person by the login shown); None when it cannot be sorted."""


FIELDS: dict[str, Field] = {
    "occurred_at": Field(Label("日時", "Date and time"), "occurred_at"),
    "received_at": Field(Label("受信日時", "Received at"), "received_at"),
    "started_at": Field(Label("日時", "Date and time"), "started_at"),
    "level": Field(Label("レベル", "Level"), "level"),
    "history": Field(Label("履歴", "History"), "history"),
    "app": Field(Label("アプリケーション名", "Application"), None),
    "ip": Field(Label("IPアドレス", "IP address"), "ip"),
    "actor": Field(Label("ユーザー", "User"), "actor"),
    "actor_id": Field(Label("アカウントID", "Account ID"), "actor_id"),
    "actor_login": Field(Label("ログイン名", "Login name"), "actor_login"),
    "actor_name": Field(Label("ユーザー名", "User name"), "actor_name"),
    "action": Field(Label("操作", "Operation"), "label"),
    "action_code": Field(Label("アクション", "Action"), "action"),
    "module": Field(Label("モジュール", "Module"), None),
    "category": Field(Label("データ種類", "Data type"), "category"),
    "group": Field(Label("種別", "Type"), None),
    "result": Field(Label("結果", "Result"), "result"),
    "target": Field(Label("対象", "Target"), "target"),
    "target_id": Field(Label("連携対象", "Target"), "target_id"),
    "service": Field(Label("サービス", "Service"), "service"),
    "message": Field(Label("内容", "Description"), None),
    "trace_id": Field(Label("トレースID", "Trace ID"), None),
    "user_agent": Field(Label("ユーザーエージェント", "User agent"), None),
    "error": Field(Label("エラー情報", "Error"), None),
}


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    kind: str = "text"
    """``text``, ``time``, ``level`` or ``result``."""
    tone: str = ""
    """For a level or result: the level, or good / pending / bad."""


def local_time(iso: str | None, tz: str) -> str:
    """``yyyy/mm/dd hh:mm:ss`` in the tenant's zone."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y/%m/%d %H:%M:%S")


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(text_of(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def failed(result: str) -> bool:
    """Whether ``result`` says the operation failed (FAILED, ログインNG, NG, ロック …)."""
    return result_tone(result) == "bad"


def result_tone(result: str) -> str:
    if result in GOOD_RESULTS:
        return "good"
    return "pending" if result in PENDING_RESULTS else "bad"


def cell(event: PresentedEvent, field: str, catalog: Catalog, tz: str) -> Cell:
    """The cell of ``field`` for a presented event (see :func:`kansa.present.present`)."""
    labels: dict[str, str] = event.get("labels") or {}
    actor: Mapping[str, Any] = event.get("actor") or {}
    if field in ("occurred_at", "received_at", "started_at"):
        moment = event.get("received_at") if field == "received_at" else event.get("occurred_at")
        if field == "started_at":  # a job's: when it began (KDDI 4.1), as its CSV writes
            moment = (event.get("job") or {}).get("started_at") or moment
        return Cell(local_time(moment, tz), "time")
    if field == "level":
        return Cell(labels.get("level", ""), "level", str(event.get("level", "")))
    if field == "result":
        result = str(event.get("result", ""))
        return Cell(labels.get("result", result), "result", result_tone(result))
    if field.startswith("param:"):
        return Cell(text_of((event.get("params") or {}).get(field.removeprefix("param:"))))
    return Cell(_plain(event, field, labels, actor, catalog))


def _plain(
    event: PresentedEvent,
    field: str,
    labels: dict[str, str],
    actor: Mapping[str, Any],
    catalog: Catalog,
) -> str:
    targets = event.get("targets") or []
    first: Mapping[str, Any] = targets[0] if targets else {}
    error: Mapping[str, Any] = event.get("error") or {}
    values: dict[str, Any] = {
        "history": labels.get("history"),
        "app": event.get("app"),
        "ip": event.get("ip"),
        "actor": actor.get("name") or actor.get("login") or actor.get("id"),
        "actor_id": actor.get("id"),
        "actor_login": actor.get("login") or actor.get("id"),
        "actor_name": actor.get("name"),
        "action": labels.get("action"),
        "action_code": event.get("action_code") or event.get("action"),
        "category": labels.get("category"),
        "group": labels.get("group"),
        "target": first.get("name") or first.get("login") or first.get("id"),
        "target_id": first.get("id") or first.get("login") or first.get("name"),
        "service": (event.get("params") or {}).get("service"),
        "message": event.get("message"),
        "trace_id": event.get("trace_id"),
        "user_agent": event.get("user_agent"),
        "error": " ".join(text_of(v) for v in (error.get("code"), error.get("message")) if v),
    }
    if field == "module":
        return str(event.get("module") or "")
    return text_of(values.get(field))
