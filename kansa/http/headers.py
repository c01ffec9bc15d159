"""Headers every reply carries unless its route set its own: a Content-Security-Policy that
allows nothing (a JSON reply or a file needs no script, style or frame) and ``nosniff``. The
console's pages and ``/docs`` set their own, narrower-than-nothing-but-enough policies.
:func:`with_defaults` is applied to every reply's headers by the outermost middleware
(``kansa.server.requests``), so the refusals of the edge limits carry them too."""

from __future__ import annotations

from collections.abc import Iterable

RawHeaders = list[tuple[bytes, bytes]]

DEFAULTS = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
)


def with_defaults(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """``headers`` and, after them, each of :data:`DEFAULTS` they lack."""
    given = list(headers)
    present = {name.lower() for name, _ in given}
    given.extend(h for h in DEFAULTS if h[0] not in present)
    return given
