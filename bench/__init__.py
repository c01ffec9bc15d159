"""kansa's benchmark: ``python -m bench`` (``make bench``).

Ingest through the store API and over HTTP, each printed beside the engine's own limit for the
same work measured in the same run (see docs/benchmarks.md).
"""
