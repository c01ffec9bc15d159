"""The files each layout offers, as data, and how a column reads an event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kansa.catalog import Catalog, Label
from kansa.catalog.layout import DEFAULT_LAYOUT, default_layout_paths, load_layout, load_layouts
from kansa.errors import ConfigError
from kansa.export.fields import error_info, getter, local_time, row_builder
from kansa.export.files import Column, common_exports, parse_exports
from kansa.export.jsonl import jsonl_lines
from kansa.integrity.chain import StoredLink

JST = ZoneInfo("Asia/Tokyo")


def test_every_layout_offers_the_pca_file_and_its_own() -> None:
    layouts = load_layouts(default_layout_paths())
    assert {name: sorted(layout.export_files()) for name, layout in layouts.items()} == {
        "cybozu": ["audit-log", "events", "log-access"],
        "kddi-business-id": [
            "access-log",
            "events",
            "log-access",
            "operation-log",
            "provisioning-log",
        ],
        "microcms": ["audit-log", "events", "log-access"],
        "pca-id": ["events", "log-access"],
    }
    assert list(DEFAULT_LAYOUT.export_files()) == ["events", "log-access"]
    assert common_exports()["log-access"].histories == ("access",)  # kansa's own history
    assert len(common_exports()["events"].columns) == 15
    kddi = layouts["kddi-business-id"]
    for name, history in [
        ("access-log", "login"),
        ("operation-log", "operation"),
        ("provisioning-log", "provisioning"),
    ]:
        file = kddi.export(name)
        assert file is not None and file.histories == (history,) and not file.filters_apply


def test_microcms_headers_are_the_catalogs_recorded_fields(catalog: Catalog) -> None:
    file = load_layouts(default_layout_paths())["microcms"].export("audit-log")
    assert file is not None
    fields = catalog.products["microcms"].fields
    assert len(fields) == 28
    by_param = {c.fields[0].removeprefix("params."): c.header for c in file.columns[4:]}
    assert by_param == dict(fields)


def test_file_names_use_the_download_day_and_the_period() -> None:
    spec = {
        "file": "{tenant}_{from}-{to}_{date}.csv",
        "columns": [{"ja": "a", "en": "a", "field": "id"}],
    }
    file = parse_exports({"x": spec}, "t")["x"]
    now = datetime(2026, 1, 22, 0, 30, tzinfo=JST)
    since = datetime(2025, 12, 1, tzinfo=JST)
    until = datetime(2026, 1, 1, tzinfo=JST)  # exclusive: the period ends on 12/31
    name = file.filename(tenant="org", now=now, since=since, until=until)
    assert name == "org_20251201-20251231_20260122.csv"
    assert file.filename(tenant="o", now=now, since=None, until=None, fmt="jsonl") == (
        "o_start-20260122_20260122.jsonl"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"file": "x.txt", "columns": [{"ja": "a", "en": "a", "field": "id"}]}, "ending in .csv"),
        ({"file": "{day}.csv", "columns": [{"ja": "a", "en": "a", "field": "id"}]}, "placeholders"),
        ({"file": "x.csv", "columns": []}, "non-empty list"),
        ({"file": "x.csv", "history": ["web"], "columns": [{}]}, "history"),
        ({"file": "x.csv", "columns": [{"ja": "a", "en": "a"}]}, "field"),
        ({"file": "x.csv", "columns": [{"ja": "a", "field": "id"}]}, "ja and en"),
        ({"file": "x.csv", "columns": [{"ja": "a", "en": "a", "field": "id", "fmt": 1}]}, "fmt"),
        (
            {"file": "x.csv", "sheet": 1, "columns": [{"ja": "a", "en": "a", "field": "id"}]},
            "sheet",
        ),
    ],
)
def test_a_wrong_file_is_named_with_its_place(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_exports({"x": spec}, "layout.toml")


def test_a_layout_file_with_exports_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[layout]\nid = "mine"\nproduct = "mine"\nname = "Mine"\n'
        '[exports.events]\nfile = "mine_{date}.csv"\n'
        'columns = [{ ja = "日時", en = "Date", field = "occurred_at" }]\n',
        encoding="utf-8",
    )
    layout = load_layout(path)
    mine = layout.export("events")
    assert mine is not None and mine.file == "mine_{date}.csv"  # its own replaces the common one


def test_columns_read_paths_fallbacks_times_labels_and_json() -> None:
    columns = [
        Column(header=_label("日時"), fields=("occurred_at",)),
        Column(header=_label("ID"), fields=("actor.login", "actor.id")),
        Column(header=_label("対象"), fields=("targets.1.id", "targets.0.id")),
        Column(
            header=_label("レベル"),
            fields=("level",),
            values={"important": _label("重要", "Notice")},
        ),
        Column(header=_label("詳細"), fields=("details",)),
        Column(header=_label("予約"), fields=("params.at",), format="time"),
        Column(header=_label("数"), fields=("params.n",)),
        Column(header=_label("旗"), fields=("anonymous",)),
        Column(header=_label("無"), fields=("nothing.here",)),
    ]
    event = {
        "occurred_at": "2026-11-21T01:00:00.000000Z",
        "actor": {"id": "acc-1", "login": ""},
        "targets": [{"id": "t0"}],
        "level": "important",
        "details": {"a": ["ü", 1]},
        "params": {"at": "not a time", "n": 3},
        "anonymous": False,
    }
    assert row_builder(columns, JST, "en")(event) == [
        "2026/11/21 10:00:00",
        "acc-1",
        "t0",
        "Notice",
        '{"a":["ü",1]}',
        "not a time",
        3,
        "false",
        None,
    ]


def test_small_readers() -> None:
    assert error_info({"error": {"code": "E1", "message": "m"}}) == "E1: m"
    assert error_info({"error": {"message": "m"}}) == "m"
    assert error_info({"error": None}) is None
    assert getter("targets.0.name")({"targets": []}) is None
    assert local_time("2026-11-21T10:00:00", JST) == "2026-11-21T10:00:00"  # no offset: as is


class Chain:
    def __init__(self, count: int) -> None:
        self.count = count
        self.closed = False
        self.read = 0

    def chain(self, tenant_id: str, after_seq: int = 0) -> Iterator[StoredLink]:
        try:
            for seq in range(after_seq + 1, self.count + 1):
                self.read = seq
                yield StoredLink(seq, b'{"seq":%d}' % seq, "h", "p")
        finally:
            self.closed = True


def test_jsonl_lines_cover_first_to_last_and_close_the_cursor() -> None:
    store = Chain(100)
    assert list(jsonl_lines(store, "t", 5, 7)) == [b'{"seq":5}\n', b'{"seq":6}\n', b'{"seq":7}\n']
    assert store.read == 7 and store.closed
    assert list(jsonl_lines(store, "t", 5, 4)) == []


def _label(ja: str, en: str | None = None) -> Label:
    return Label(ja, en or ja)


def test_local_times_in_order_agree_with_local_time_across_offset_changes() -> None:
    """The per-minute offset of an export's run of times is the zone's, DST included
    (Newfoundland changes at half past a UTC hour)."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from kansa.export.fields import local_times
    from kansa.timeutil import iso_utc

    for zone in ("Asia/Tokyo", "America/St_Johns", "Europe/London", "Australia/Lord_Howe"):
        tz = ZoneInfo(zone)
        convert = local_times(tz)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        moments = [start + timedelta(minutes=37 * n, seconds=n % 60) for n in range(15_000)]
        for value in (iso_utc(m) for m in moments):
            assert convert(value) == local_time(value, tz), (zone, value)
        assert convert("2026-11-21T10:00:00+09:00") == local_time("2026-11-21T10:00:00+09:00", tz)
        assert convert("not a time") == "not a time"


def test_cells_are_the_cells_of_row_builder_as_the_writer_takes_them() -> None:
    """cells_builder reads plain fields in place; every cell must be cell() of row_builder's."""
    from kansa.export.csv import cell
    from kansa.export.fields import cells_builder

    paths = [
        "occurred_at", "received_at", "message", "app", "ip", "actor.id", "actor.name",
        "tenant.name", "targets.0.id", "params.n", "params.at", "details", "error_info",
        "labels.level", "anonymous", "nothing.here", "actor.login.deeper",
    ]  # fmt: skip
    columns = [Column(header=_label(p), fields=(p,)) for p in paths] + [
        Column(header=_label("t"), fields=("params.at",), format="time"),
        Column(header=_label("j"), fields=("params.s",), format="json"),
        Column(header=_label("or"), fields=("actor.login", "actor.id")),
        Column(header=_label("v"), fields=("level",), values={"=x": _label("=label")}),
    ]
    hostile = ["", "=1+1", "＋1", " \u3000-x", "\tx", "@SUM(A1)", "漢字\u202eexe.fdp", "日本語",
               "a\r\nb", '"q"', "'=x", "\u200b=x", "-", "plain"]  # fmt: skip
    for zone in ("Europe/Berlin", "America/St_Johns"):
        tz = ZoneInfo(zone)
        build, cells = row_builder(columns, tz, "ja"), cells_builder(columns, tz, "ja")
        for n, text in enumerate(hostile * 2):
            event = {
                "occurred_at": [  # Berlin's and St. John's spring changes, and no time
                    "2026-03-29T00:59:59.999999Z", "2026-03-29T01:00:00.000000Z",
                    "2026-03-08T05:29:59.000001Z", "2026-03-08T05:30:00.000000Z",
                    "2026-03-29T00:60:00.000000Z",
                ][n % 5],
                "received_at": ["2026-10-25T01:00:00+00:00", "2026-11-01T03:30:00.5Z", text][n % 3],
                "message": text, "app": text, "ip": None, "level": ["=x", text][n % 2],
                "actor": [{"id": text, "name": text, "login": ""}, text, None][n % 3],
                "tenant": {"name": text}, "targets": [{"id": text}][: n % 2],
                "params": {"n": [3, 2.5, True, None][n % 4], "at": text, "s": text},
                "details": [None, {"a": [text]}, [text], text][n % 4],
                "error": [None, {"code": text, "message": text}][n % 2],
                "labels": {"level": text},
                "anonymous": [False, True, text][n % 3],
            }  # fmt: skip
            assert cells(event) == [cell(v) for v in build(event)], (zone, event)


def test_local_times_agree_with_local_time_by_the_second_around_offset_changes() -> None:
    """Every second of an hour around Berlin's and St. John's changes, and in Amsterdam
    when it was 19 min 32 s off UTC, in either UTC spelling."""
    from datetime import timedelta

    from kansa.export.fields import local_times
    from kansa.timeutil import iso_utc

    for zone, starts in (
        ("Europe/Berlin", ["2026-03-29T00:30:00Z", "2026-10-25T00:30:00Z"]),
        ("America/St_Johns", ["2026-03-08T05:00:00Z", "2026-11-01T04:00:00Z"]),
        ("Europe/Amsterdam", ["1935-06-01T12:00:00Z"]),
    ):
        tz = ZoneInfo(zone)
        convert = local_times(tz)
        for start in map(datetime.fromisoformat, starts):
            for n in range(3600):
                value = iso_utc(start + timedelta(seconds=n, microseconds=n))
                spelt = value[:19] + "+00:00"
                assert convert(spelt) == local_time(spelt, tz), spelt  # first: a new minute
                assert convert(value) == local_time(value, tz), value


def test_no_installed_zone_changes_twice_within_an_hour() -> None:
    """What local_times' offset per hour rests on: an hour whose first and last microsecond
    have one offset has it throughout, unless the zone changes twice within the hour. Read
    from every installed zone's own transitions (the pure-Python zoneinfo keeps them), and
    after its last, from the rule it follows every year (its two changes, up to 2100)."""
    from zoneinfo import _zoneinfo, available_timezones  # type: ignore[attr-defined]

    zones = [_zoneinfo.ZoneInfo.no_cache(key) for key in sorted(available_timezones())]
    assert len(zones) > 300
    closest = min(
        (later - earlier, zone.key)
        for zone in zones
        for transitions in [zone._trans_utc]
        for earlier, later in zip(transitions, transitions[1:], strict=False)
    )
    assert closest[0] > 3600, closest
    ruled = [zone for zone in zones if hasattr(zone._tz_after, "transitions")]
    assert len(ruled) > 50  # zones with summer time now
    for zone in ruled:
        changes = sorted(c for year in range(2030, 2101) for c in zone._tz_after.transitions(year))
        closest = min(later - earlier for earlier, later in zip(changes, changes[1:], strict=False))
        assert closest > 3600, (zone.key, closest)


def test_local_times_take_an_hour_with_a_change_value_by_value() -> None:
    """Lord Howe moves by half an hour, St. John's at half past a UTC hour, Kathmandu is
    5 h 45 min off: every minute of a day around each change, with a second off the minute;
    and minute 60 of an hour just converted is no time, left as it is."""
    from datetime import timedelta

    from kansa.export.fields import local_times
    from kansa.timeutil import iso_utc

    for zone, start in (
        ("Australia/Lord_Howe", "2026-04-04T14:00:00Z"),
        ("Australia/Lord_Howe", "2026-10-03T15:00:00Z"),
        ("America/St_Johns", "2026-03-08T00:00:00Z"),
        ("Asia/Kathmandu", "2026-06-01T00:00:00Z"),
    ):
        tz, moment = ZoneInfo(zone), datetime.fromisoformat(start)
        convert = local_times(tz)
        for n in range(24 * 60):
            value = iso_utc(moment + timedelta(minutes=n, seconds=n % 7 * 9))
            assert convert(value) == local_time(value, tz), (zone, value)
            no_time = value[:14] + "60" + value[16:]  # of an hour just converted: no time
            assert convert(no_time) == no_time


def test_times_past_the_calendars_edge_in_the_zone_are_written_as_they_are() -> None:
    """A time stored before times were checked may have no local time (year 10000 in Tokyo,
    year 0 in New York): its cell is the text as stored, and the export goes on."""
    from kansa.export.fields import local_times

    for zone, value in (
        ("Asia/Tokyo", "9999-12-31T23:00:00.000000Z"),
        ("Asia/Tokyo", "9999-12-31T20:00:00+00:00"),
        ("America/New_York", "0001-01-01T00:00:00.000000Z"),
    ):
        tz = ZoneInfo(zone)
        assert local_time(value, tz) == value
        convert = local_times(tz)
        assert convert(value) == value
        assert convert("2026-11-21T01:00:00.000000Z") == local_time(
            "2026-11-21T01:00:00.000000Z", tz
        )
