"""An event as a reader sees it: the stored event plus its message and labels in the
reader's language, from the catalog."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from kansa.catalog import Catalog, Label
from kansa.events.stored import PresentedEvent, StoredEvent
from kansa.words import Lang

LOCAL_TIME = "%Y/%m/%d %H:%M:%S"
"""How a product writes a time (PCA ID's CSV, microCMS's messages): ``2026/12/10 09:00:00``."""
LEVEL_LABELS = {
    "important": Label("重要", "Important"),
    "info": Label("情報", "Information"),
    "warning": Label("警告", "Warning"),
    "error": Label("エラー", "Error"),
}
HISTORY_LABELS = {
    "login": Label("ログイン履歴", "Login history"),
    "operation": Label("操作履歴", "Operation history"),
    "provisioning": Label("サービス連携履歴", "Provisioning history"),
    "access": Label("ログの利用履歴", "Log access"),
}


def present(
    event: StoredEvent,
    catalog: Catalog,
    lang: Lang,
    *,
    in_place: bool = False,
    tz: str | None = None,
) -> PresentedEvent:
    """A copy of ``event`` (or ``event`` itself, ``in_place``, when the caller owns it) with
    ``message`` (in ``lang``), ``messages`` (both), ``labels`` (the level in the product's
    words), the catalog's ``module`` (Garoon's モジュール; the event's own where several
    modules log it) and ``action_code`` (the action as the product writes it, with its
    value: ``login API(REST)``). With ``tz``, the values in a message that its product
    calls times are written in that zone as ``yyyy/mm/dd hh:mm:ss``."""
    shown = cast("dict[str, Any]", event if in_place else dict(event))  # becomes presented
    messages = cast("Mapping[str, str]", event.get("message") or {})
    if tz is not None:
        messages = _times_in(messages, event, catalog, tz)
    shown["messages"] = messages
    shown["message"] = messages.get(lang, "")
    labels, module = _labels(
        catalog,
        lang,
        str(event.get("product") or ""),
        str(event.get("action") or ""),
        str(event.get("level") or ""),
        str(event.get("history") or ""),
        str(event.get("result") or ""),
        str(event.get("category") or ""),
    )
    shown["labels"] = dict(labels)
    shown["module"] = module
    shown["action_code"] = str(event.get("action") or "")
    event_type = catalog.get(str(event.get("product") or ""), shown["action_code"])
    if event_type is not None and (event_type.code is not None or event_type.modules):
        params = event.get("params") or {}
        shown["labels"]["action"] = event_type.title(lang, params)
        shown["action_code"] = event_type.shown_code(params)
        shown["module"] = event_type.module_of(params)
    return cast("PresentedEvent", shown)  # every key it lacked as a stored event is set


def _times_in(
    messages: Mapping[str, str], event: StoredEvent, catalog: Catalog, tz: str
) -> Mapping[str, str]:
    """``messages`` with each time value (as published, ISO 8601) written in ``tz``."""
    product = catalog.products.get(str(event.get("product") or ""))
    if product is None or not product.times:  # most products: no time in any message
        return messages
    params = event.get("params") or {}
    times = product.times & set(params)
    if not times:
        return messages
    zone = ZoneInfo(tz)
    swaps: dict[str, str] = {}
    for name in times:
        raw = params[name]
        try:
            swaps[raw] = datetime.fromisoformat(raw).astimezone(zone).strftime(LOCAL_TIME)
        except (TypeError, ValueError, OverflowError):  # stored before times were checked
            continue
    out = {}
    for lang, text in messages.items():
        for raw, local in swaps.items():
            text = text.replace(raw, local)
        out[lang] = text
    return out


@lru_cache(maxsize=4096)
def _labels(
    catalog: Catalog,
    lang: Lang,
    product_id: str,
    action: str,
    level: str,
    history: str,
    result: str,
    category: str,
) -> tuple[dict[str, str], str]:
    """The labels and module of one kind of event: the same for every event of that action,
    result and level, so worked out once per loaded catalog (which does not change)."""
    product = catalog.products.get(product_id)
    event_type = catalog.get(product_id, action)
    words = product.levels if product is not None else {}
    labels: dict[str, str] = {
        "level": _label(words.get(level) or LEVEL_LABELS.get(level), lang, level),
        "history": _label(HISTORY_LABELS.get(history), lang, history),
        "action": _label(event_type.label if event_type else None, lang, action),
    }
    if product is not None:
        labels["result"] = _label(product.results.get(result), lang, result)
        labels["category"] = _label(product.categories.get(category), lang, category)
        if event_type is not None and event_type.group:
            labels["group"] = _label(product.groups.get(event_type.group), lang, event_type.group)
    return labels, event_type.module if event_type is not None else ""


def _label(label: Label | None, lang: Lang, fallback: object) -> str:
    return label.get(lang) if label is not None else str(fallback or "")
