"""Time in kansa: aware datetimes, stored as UTC, written in one canonical form."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from kansa.errors import InvalidQuery, Problem

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch; exact, unlike ``timestamp()``."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def iso_utc(moment: datetime) -> str:
    """``2026-11-21T01:00:00.000000Z``: fixed width, so text order is time order."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # orjson writes it in a third of isoformat's time, the microseconds only when there are some
    text = orjson.dumps(moment, option=orjson.OPT_UTC_Z)
    return text[1:-1].decode() if len(text) == 29 else text[1:20].decode() + ".000000Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time that states its offset; a naive one is refused."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("time must state its UTC offset (e.g. +09:00 or Z)")
    return moment


EARLIEST_BOUND = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_BOUND = datetime(9999, 12, 30, tzinfo=UTC)
"""A period's bounds lie between these, so that no arithmetic on them leaves the calendar."""


def parse_period_bound(text: str, tz: str, name: str, end: bool = False) -> datetime:
    """A ``from``/``to`` bound: a date (``2026-11-01`` or ``2026/11/01``, in the tenant's zone;
    a ``to`` date means the end of that day) or an ISO time with its offset. The result is an
    exclusive bound for ``to``."""
    cleaned = text.strip().replace("/", "-")
    try:
        if len(cleaned) == 10:
            day = date.fromisoformat(cleaned)
            moment = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
        else:
            moment = parse_iso(cleaned)
        return within_bounds(moment, name) + (
            (timedelta(days=1) if len(cleaned) == 10 else timedelta(microseconds=1))
            if end
            else timedelta(0)
        )
    except ValueError as exc:
        raise InvalidQuery([Problem(name, f"not a date or a time with offset: {exc}")]) from None


def within_bounds(moment: datetime, name: str) -> datetime:
    """``moment`` if it lies between :data:`EARLIEST_BOUND` and :data:`LATEST_BOUND`."""
    try:
        inside = EARLIEST_BOUND <= moment.astimezone(UTC) <= LATEST_BOUND
    except OverflowError:
        inside = False
    if not inside:
        raise InvalidQuery([Problem(name, "must lie between 1970-01-01 and 9999-12-30 (UTC)")])
    return moment
