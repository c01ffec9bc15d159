"""Catalogs: the event types each product emits, loaded from TOML data files."""

from kansa.catalog.loader import default_catalog_paths, load_catalog
from kansa.catalog.model import Catalog, EventType, Label, Product

__all__ = ["Catalog", "EventType", "Label", "Product", "default_catalog_paths", "load_catalog"]
