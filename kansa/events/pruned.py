"""A pruned event as a screen shows it: a placeholder with its time, action and result and
what became of it — 「保存期間を過ぎたため削除」 or 「本人の請求により削除」 — and nothing
of what it said (that is gone from the store)."""

from __future__ import annotations

from kansa.events.stored import Messages, StoredEvent

REMOVED: dict[str, Messages] = {
    "retention": {"ja": "保存期間を過ぎたため削除", "en": "Removed after its retention period"},
    "erasure": {"ja": "本人の請求により削除", "en": "Erased on request"},
}


def placeholder(
    *,
    pruned: str,
    event_id: str,
    tenant: str,
    app: str | None,
    kind: tuple[str, str, str, str],
    result: str,
    level: str,
    times: tuple[str, str],
    chain: tuple[int, str, str],
) -> StoredEvent:
    """The placeholder of a pruned event: ``kind`` is its product, action, category and
    history; ``times`` when it occurred and was received; ``chain`` its seq, prev_hash and
    hash."""
    product, action, category, history = kind
    return {
        "v": 1,
        "id": event_id,
        "client_id": None,
        "tenant": {"id": tenant, "name": None},
        "app": app,
        "product": product,
        "action": action,
        "category": category,
        "history": history,  # type: ignore[typeddict-item]  # a word the store wrote
        "occurred_at": times[0],
        "received_at": times[1],
        "result": result,
        "level": level,  # type: ignore[typeddict-item]
        "actor": None,
        "anonymous": False,
        "ip": None,
        "user_agent": None,
        "targets": [],
        "params": {},
        "details": None,
        "trace_id": None,
        "error": None,
        "correlation_id": None,
        "seq": chain[0],
        "prev_hash": chain[1],
        "hash": chain[2],
        "message": REMOVED.get(pruned, REMOVED["retention"]),
        "pruned": pruned,
    }
