"""Delivery to streaming destinations as ``kansa serve`` runs it: one worker thread per
process (``KANSA_DELIVER``), beside the jobs; processes on one database share the cursors
(see kansa.streaming.worker). Without a signing key nothing is delivered: every batch carries
a signed checkpoint."""

from __future__ import annotations

import logging

from kansa.errors import ConfigError
from kansa.server.runtime import Runtime
from kansa.streaming.worker import Deliverer

log = logging.getLogger("kansa.deliver")


def deliverer_for(runtime: Runtime) -> Deliverer | None:
    try:
        signer = runtime.signer()
    except ConfigError as exc:
        log.warning("streaming destinations are not delivered to: %s", exc)
        return None
    lease = runtime.settings.delivery_lease_seconds
    return Deliverer(runtime.store, runtime.catalog, signer, lease=lease)
