"""Errors the publisher's client raises on purpose::

KansaError
└── ClientError        the client cannot do what was asked
    ├── ClientClosed   publish() after close()
    ├── SpoolBusy      another live client holds the spool file
    └── SpoolExposed   others may read the spool file
"""

from __future__ import annotations

from kansa.errors import KansaError


class ClientError(KansaError):
    """The publisher's client cannot do what was asked."""


class ClientClosed(ClientError):
    """The client was closed; it takes no more events."""


class SpoolBusy(ClientError):
    """Another live client (in this process or another) holds the spool file: two senders
    on one spool would send every event twice."""


class SpoolExposed(ClientError):
    """The spool (or its lock, ``-wal`` or ``-shm``) may be read or written by others: it
    holds every event not yet acknowledged, so the client refuses it until it is 0600."""
