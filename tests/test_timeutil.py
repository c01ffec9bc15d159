"""Time written in kansa's one form: ``iso_utc`` for any aware time, whatever its zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from kansa.timeutil import iso_utc

ZONES = st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ),
)


FIRST, LAST = datetime(2, 1, 1), datetime(9998, 12, 31)  # noqa: DTZ001 (hypothesis wants naive bounds)


@settings(max_examples=300)
@given(st.datetimes(min_value=FIRST, max_value=LAST, timezones=ZONES))
def test_iso_utc_is_isoformat_in_utc_with_microseconds_and_z(moment: datetime) -> None:
    written = iso_utc(moment)
    assert written == moment.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "Z"
    assert len(written) == 27 and datetime.fromisoformat(written) == moment


def test_a_whole_second_keeps_its_microseconds() -> None:
    assert iso_utc(datetime(2026, 11, 21, 10, tzinfo=timezone(timedelta(hours=9)))) == (
        "2026-11-21T01:00:00.000000Z"
    )
