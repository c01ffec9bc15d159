"""The rules a tenant's settings follow wherever they are set (the CLI, a first event, the
store's defaults): its id, layout, time zone, language and region. A refusal is an
:class:`~kansa.errors.InvalidInput` naming the field and what it may be."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kansa.errors import InvalidInput, Problem
from kansa.words import LANGS

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
"""A tenant id: letters, digits and ``. _ : @ -``, starting with a letter or digit, ≤ 128."""
_ID = re.compile(ID_PATTERN)


def check_id(tenant_id: str, where: str = "id") -> None:
    if not _ID.match(tenant_id):
        _refuse(where, f"tenant id {tenant_id!r} must be letters, digits and . _ : @ - (≤128)")


def check_layout(layout: str, known: Iterable[str], where: str = "layout") -> None:
    names = sorted(known)
    if layout not in names:
        _refuse(where, f"unknown layout {layout!r}; known: {', '.join(names)}")


def check_tz(tz: str, where: str = "tz") -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        _refuse(where, f"unknown time zone {tz!r} (e.g. Asia/Tokyo, UTC)")


def check_lang(lang: str, where: str = "lang") -> None:
    if lang not in LANGS:
        _refuse(where, f"lang must be one of {', '.join(LANGS)}, not {lang!r}")


def check_region(region: str, known: Iterable[str], where: str = "region") -> None:
    """A region is one some loaded catalog names (Cybozu: JP, US, CN); empty clears it."""
    names = sorted(set(known))
    if region and region not in names:
        allowed = ", ".join(names) if names else "none (no catalog names a region)"
        _refuse(where, f"unknown region {region!r}; known: {allowed}")


def check_settings(
    known_layouts: Iterable[str],
    layout: str | None = None,
    tz: str | None = None,
    lang: str | None = None,
) -> None:
    """Check whichever of a tenant's layout, time zone and language are given."""
    if layout is not None:
        check_layout(layout, known_layouts)
    if tz is not None:
        check_tz(tz)
    if lang is not None:
        check_lang(lang)


def _refuse(where: str, message: str) -> None:
    raise InvalidInput([Problem(where, message)])


def check_not_retired(tenant_ids: Sequence[str], retired: AbstractSet[str], single: bool) -> None:
    """Events are not accepted for a retired tenant: each one for such a tenant is named
    (``tenant.id``, or ``events[i].tenant.id`` in a batch)."""
    problems = [
        Problem(
            "tenant.id" if single else f"events[{index}].tenant.id",
            f"tenant {tenant!r} is retired: it accepts no events",
        )
        for index, tenant in enumerate(tenant_ids)
        if tenant in retired
    ]
    if problems:
        raise InvalidInput(problems)
