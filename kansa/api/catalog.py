"""``/api/v1/catalog``: the event types kansa knows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from kansa.catalog import Catalog, EventType
from kansa.http.responses import JSON

router = APIRouter(prefix="/api/v1", tags=["catalog"])


def describe(catalog: Catalog, event_type: EventType) -> dict[str, Any]:
    product = catalog.products[event_type.product]
    return {
        "action": event_type.action,
        "product": event_type.product,
        "apps": list(product.apps),
        "category": event_type.category,
        "category_label": product.categories[event_type.category].as_dict(),
        "history": event_type.history,
        "level": event_type.level,
        "result_levels": dict(event_type.result_levels),
        "module": event_type.module,
        "label": event_type.label.as_dict(),
        "group": event_type.group,
        "results": [{"code": r, "label": product.results[r].as_dict()} for r in event_type.results],
        "params": event_type.param_names(),
        "message": {"ja": event_type.message.ja, "en": event_type.message.en},
        "result_messages": {
            r: {"ja": t.ja, "en": t.en} for r, t in event_type.result_messages.items()
        },
        "times": sorted(product.times & set(event_type.param_names())),
        "regions": sorted(event_type.regions),
        "screen": sorted(event_type.screen),
        "csv": sorted(event_type.csv),
        "description": event_type.description,
    }


@router.get("/catalog", summary="The loaded event types")
def catalog(request: Request, product: str | None = None) -> JSON:
    """Every event type of every loaded catalog (or of one ``product``): its action code,
    category, history, default level, allowed results with labels, the params its message
    needs, and the message template in Japanese and English."""
    loaded: Catalog = request.app.state.kansa.catalog
    types = [
        describe(loaded, t) for t in loaded.event_types() if product is None or t.product == product
    ]
    return JSON({"event_types": types, "count": len(types)})
