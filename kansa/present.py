"""An event as a reader sees it: the stored event plus its message and labels in the
reader's language, from the catalog."""

from __future__ import annotations

from typing import Any

from kansa.catalog import Catalog, Label

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
}


def present(event: dict[str, Any], catalog: Catalog, lang: str) -> dict[str, Any]:
    """A copy of ``event`` with ``message`` (in ``lang``), ``messages`` (both), ``labels`` and
    the catalog's ``module`` (Garoon's モジュール)."""
    shown = dict(event)
    messages = event.get("message") or {}
    shown["messages"] = messages
    shown["message"] = messages.get(lang, "")
    product = catalog.products.get(event.get("product", ""))
    event_type = catalog.get(event.get("product", ""), event.get("action", ""))
    labels: dict[str, str] = {
        "level": _label(LEVEL_LABELS.get(event.get("level", "")), lang, event.get("level")),
        "history": _label(HISTORY_LABELS.get(event.get("history", "")), lang, event.get("history")),
        "action": _label(event_type.label if event_type else None, lang, event.get("action")),
    }
    if product is not None:
        labels["result"] = _label(
            product.results.get(event.get("result", "")), lang, event.get("result")
        )
        labels["category"] = _label(
            product.categories.get(event.get("category", "")), lang, event.get("category")
        )
        if event_type is not None and event_type.group:
            labels["group"] = _label(product.groups.get(event_type.group), lang, event_type.group)
    shown["labels"] = labels
    shown["module"] = event_type.module if event_type is not None else ""
    return shown


def _label(label: Label | None, lang: str, fallback: object) -> str:
    return label.get(lang) if label is not None else str(fallback or "")
