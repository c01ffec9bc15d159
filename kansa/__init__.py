"""kansa (監査): a self-hosted, multi-tenant audit log service."""

__version__ = "0.1.0"
