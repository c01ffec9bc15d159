"""The console: kansa's log screens for people, server-rendered HTML under ``/console``.

Importing this package registers every console route on :data:`router`; the HTTP app
includes it beside the API."""

from kansa.web import auth, destinations, events, export, log, settings, static
from kansa.web.routing import router

__all__ = ["router", "auth", "destinations", "events", "export", "log", "settings", "static"]
