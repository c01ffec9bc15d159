"""The demo data a newcomer sees first: valid for the catalogs, and every message names what
it is about (no empty 「」 where a product's message has a name)."""

from __future__ import annotations

from kansa.catalog import Catalog
from kansa.demo import generate
from kansa.events.prepare import prepare


def test_demo_events_are_valid_and_their_messages_are_whole(catalog: Catalog) -> None:
    prepared = prepare(list(generate(catalog, 4000, seed=7)), catalog)
    products = {event.app for event in prepared}
    assert {"microCMS", "KDDI Business ID", "Garoon"} <= products, products
    for event in prepared:
        assert "「」" not in event.message_ja, event.message_ja
        assert '""' not in event.message_en, event.message_en
