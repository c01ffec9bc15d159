"""The Python client for publishers: publish events to kansa without losing one or storing
one twice.

    from kansa.client import Client

    with Client("https://kansa.example.jp", api_key) as kansa:
        kansa.publish({"tenant": {"id": "org-42"}, "action": "user.create", ...})

``publish`` commits the event to a local SQLite spool and returns; a background thread sends
batches, retries what failed for a reason that passes, and moves what kansa refused to the
spool's rejected table. Every event carries a client ``id`` (made when missing), so an event
sent twice — after a lost reply, or by the next process on the same spool — is stored once.
See docs/client.md.

Modules: ``client`` (the Client), ``spool`` (the SQLite file), ``sender`` (the thread),
``transport`` (one HTTP request and its outcome), ``backoff``, ``stats``, ``errors``.
"""

from kansa.client.client import Client
from kansa.client.errors import ClientClosed, ClientError, SpoolBusy, SpoolExposed
from kansa.client.spool import Rejected, default_spool_path
from kansa.client.stats import Stats

__all__ = [
    "Client",
    "ClientClosed",
    "ClientError",
    "Rejected",
    "SpoolBusy",
    "SpoolExposed",
    "Stats",
    "default_spool_path",
]
