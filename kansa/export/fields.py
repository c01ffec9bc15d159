"""From a presented event to the cells of one CSV row, as a layout's columns say.

A path walks the presented event (:func:`kansa.present.present`: the stored fields, ``message``
in the reader's language, ``labels``, ``module``): ``actor.login``, ``targets.0.id``,
``params.service``. Besides those, the exporter supplies:

- ``error_info`` — the error code and message in one string (PCA ID エラー情報);
- ``job.started_at`` — when a job (correlation id) began: its first state's time.

Times (``occurred_at``, ``received_at``, ``job.started_at``, and any column with ``format =
"time"``) are written ``yyyy/mm/dd hh:mm:ss`` in the tenant's zone; objects and lists as
compact JSON with the characters kept; true and false as words.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from kansa.export.csv import REORDERS, SUSPECT_FIRST, Cell, cell
from kansa.export.files import Column
from kansa.words import Lang

TIME_FIELDS = frozenset({"occurred_at", "received_at", "job.started_at"})
_ALWAYS = frozenset(
    {"occurred_at", "received_at", "action", "action_code", "level", "message", "module"}
)
"""Fields every presented event has."""
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"

Getter = Callable[[Mapping[str, Any]], Any]
RowBuilder = Callable[[Mapping[str, Any]], list[Cell]]
Written = str | int | float
"""A cell as :func:`kansa.export.csv.cell` makes it, ready for the writer."""
CellsBuilder = Callable[[Mapping[str, Any]], list[Written]]


def error_info(event: Mapping[str, Any]) -> str | None:
    """``E1234: message``, or whichever of the two the event has."""
    error = event.get("error")
    if not error:  # most events: no error at all
        return None
    parts = [str(error[k]) for k in ("code", "message") if error.get(k)]
    return ": ".join(parts) or None


DERIVED: dict[str, Getter] = {"error_info": error_info}


def local_time(value: str, tz: ZoneInfo) -> str:
    """An ISO time as ``yyyy/mm/dd hh:mm:ss`` in ``tz``; text that is no time stays as it is."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    try:
        return moment.astimezone(tz).strftime(TIME_FORMAT)
    except OverflowError:  # at the calendar's edge (stored before times were checked)
        return value


def local_times(tz: ZoneInfo) -> Callable[[str], str]:
    """:func:`local_time` for a run of times in order, as an export reads them. A time as
    kansa stores it (``2026-11-21T01:00:00.000000Z``) is converted with the zone's offset
    looked up once per hour of UTC, not per value: the offsets at the hour's first and last
    microsecond, equal when the zone does not change within the hour (no zone changes twice
    within an hour: ``tests/export/test_files.py`` holds the installed zones to that). In a
    zone a whole number of hours off UTC, the hour's local ``yyyy/mm/dd hh:`` is kept and a
    later time of that hour is it and its own minutes and seconds; a whole number of minutes
    off, the same per minute. An hour with a change, and any other text, take
    :func:`local_time` itself."""
    hour, hour_prefix, minute, prefix = "", "", "", ""
    offset: timedelta | None = _ZERO

    def convert(value: str) -> str:
        nonlocal hour, offset, hour_prefix, minute, prefix
        if _STORED_UTC(value) is None:
            return local_time(value, tz)
        if value[:13] == hour:
            if hour_prefix:
                return hour_prefix + value[14:19]
            if prefix and value[:16] == minute:
                return prefix + value[17:19]
        try:
            moment = datetime.fromisoformat(value[:26])  # without its "Z": UTC, naive
        except ValueError:
            return value
        if value[:13] != hour:
            hour, offset, hour_prefix, minute, prefix = value[:13], _steady(moment, tz), "", "", ""
        if offset is None:  # the zone changes within this hour
            return local_time(value, tz)
        # "yyyy-mm-dd hh:mm:ss" (the year always in four digits), the date's "-" as "/"
        local = (moment + offset).isoformat(" ", "seconds").replace("-", "/")
        if offset % _HOUR == _ZERO:
            hour_prefix = local[:14]
        elif offset % _MINUTE == _ZERO:
            minute, prefix = value[:16], local[:17]
        return local

    return convert


def _steady(moment: datetime, tz: ZoneInfo) -> timedelta | None:
    """The offset of ``tz`` throughout the UTC hour of naive UTC ``moment``, or None when
    it changes within that hour or the hour's local time is past the calendar's edge."""
    first = moment.replace(minute=0, second=0, microsecond=0, tzinfo=UTC)
    try:
        at_first = first.astimezone(tz).utcoffset()
        at_last = (first + _LAST_OF_HOUR).astimezone(tz).utcoffset()
    except OverflowError:  # the hour's local time is past the calendar's edge
        return None
    return at_first if at_first is not None and at_first == at_last else None


_STORED_UTC = re.compile(
    r"\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z", re.ASCII
).fullmatch
"""A time written as kansa stores it (:func:`kansa.timeutil.iso_utc`): its hour, minute and
second in range, so a time of an hour already converted is that hour's."""
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_LAST_OF_HOUR = _HOUR - timedelta(microseconds=1)
_ZERO = timedelta(0)


def getter(path: str) -> Getter:
    """A function reading ``path`` (dots; list indexes as numbers) from an event. Events are
    decoded JSON: objects are dicts, arrays lists."""
    if path in DERIVED:
        return DERIVED[path]
    parts = tuple(int(p) if p.isdigit() else p for p in path.split("."))
    if len(parts) == 1 and isinstance(parts[0], str):
        return operator.itemgetter(parts[0]) if path in _ALWAYS else _key(parts[0])
    if len(parts) == 2 and isinstance(parts[0], str) and isinstance(parts[1], str):
        return _keys(parts[0], parts[1])

    def get(event: Mapping[str, Any]) -> Any:
        value: Any = event
        for part in parts:
            if type(value) is dict and type(part) is str:
                value = value.get(part)
            elif type(value) is list and type(part) is int:
                value = value[part] if part < len(value) else None
            else:
                return None
        return value

    return get


def _key(name: str) -> Getter:
    def get(event: Mapping[str, Any]) -> Any:
        return event.get(name)

    return get


def _keys(outer: str, inner: str) -> Getter:
    """``outer.inner``, the commonest path (``actor.login``, ``labels.level``)."""

    def get(event: Mapping[str, Any]) -> Any:
        value = event.get(outer)
        return value.get(inner) if type(value) is dict else None

    return get


def column_reader(column: Column, tz: ZoneInfo, lang: Lang) -> Callable[[Mapping[str, Any]], Cell]:
    """The function giving ``column``'s cell of one presented event."""
    getters = [getter(p) for p in column.fields]
    is_time = column.format == "time" or any(p in TIME_FIELDS for p in column.fields)
    labels = {code: label.get(lang) for code, label in column.values.items()}
    fmt = column.format
    to_local = local_times(tz)
    if len(getters) == 1 and not labels and not is_time:
        (only,) = getters

        def read_one(event: Mapping[str, Any]) -> Cell:  # most columns: one plain field
            value = only(event)
            if type(value) is str:
                return value
            return None if value is None else _plain(value, fmt)

        return read_one
    if len(getters) == 1:
        return _read_single(getters[0], labels, fmt, to_local if is_time else None)

    def read(event: Mapping[str, Any]) -> Cell:
        value = None
        for get in getters:
            value = get(event)
            if value is not None and value != "":
                break
        if type(value) is str:
            if labels:
                return labels.get(value, value)
            return to_local(value) if is_time else value
        return None if value is None else _plain(value, column.format)

    return read


def _read_single(
    only: Getter, labels: Mapping[str, str], fmt: str, to_local: Callable[[str], str] | None
) -> Callable[[Mapping[str, Any]], Cell]:
    """:func:`column_reader`'s general reader for one field: a label or a time."""

    def read(event: Mapping[str, Any]) -> Cell:
        value = only(event)
        if type(value) is str:
            if labels:
                return labels.get(value, value)
            return to_local(value) if to_local is not None else value
        return None if value is None else _plain(value, fmt)

    return read


def _plain(value: Any, fmt: str) -> Cell:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list) or fmt == "json":
        return orjson.dumps(value).decode()
    if isinstance(value, int | float):
        return value
    return str(value)


def cells_builder(columns: Sequence[Column], tz: ZoneInfo, lang: Lang) -> CellsBuilder:
    """:func:`row_builder` with each cell as :func:`kansa.export.csv.cell` makes it, for
    ``csv_chunks(..., as_cells=True)``: the same cells for fewer calls. A plain field one or
    two keys deep (most columns) is read in the loop itself, any other column by its
    :func:`column_reader`; a harmless string (see :data:`kansa.export.csv.REORDERS`) is kept
    as it is, any other value goes through :func:`~kansa.export.csv.cell`."""
    steps = [(_keys_of(c), c.format, column_reader(c, tz, lang)) for c in columns]
    suspect, reorders = SUSPECT_FIRST, REORDERS

    def build(event: Mapping[str, Any]) -> list[Written]:
        row: list[Written] = []
        for keys, fmt, read in steps:
            if keys is None:
                value = read(event)
            else:
                value = event.get(keys[0])
                if len(keys) == 2:
                    value = value.get(keys[1]) if type(value) is dict else None
                if value is not None and type(value) is not str:
                    value = _plain(value, fmt)
            if type(value) is not str:
                row.append("" if value is None else cell(value))
            elif value[:1] in suspect or not (value.isascii() or reorders(value) is None):
                row.append(cell(value))
            else:
                row.append(value)
        return row

    return build


def _keys_of(column: Column) -> tuple[str] | tuple[str, str] | None:
    """The keys of ``column``'s field when it is a plain one (no label, time, list index or
    derived value, at most two keys deep) that :func:`cells_builder` reads in place."""
    (path, *more), fmt = column.fields, column.format
    if more or column.values or fmt == "time" or path in TIME_FIELDS or path in DERIVED:
        return None
    parts = path.split(".")
    if path in _ALWAYS or len(parts) > 2 or any(p.isdigit() for p in parts):
        return None
    return (parts[0],) if len(parts) == 1 else (parts[0], parts[1])


def row_builder(columns: Sequence[Column], tz: ZoneInfo, lang: Lang) -> RowBuilder:
    """The function turning one presented event into its row of cells."""
    readers = [column_reader(c, tz, lang) for c in columns]

    def build(event: Mapping[str, Any]) -> list[Cell]:
        return [read(event) for read in readers]

    return build


def needs_job(columns: Sequence[Column]) -> bool:
    """Whether a row needs its job's first state (one more read per job)."""
    return any(p.startswith("job.") for c in columns for p in c.fields)
