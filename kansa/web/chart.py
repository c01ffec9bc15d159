"""Events per day over the searched period, stacked by level, as the geometry of a
server-rendered SVG (no script, no inline style)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kansa.words import LEVELS, Level

WIDTH = 960
HEIGHT = 120
STACK = ("info", "important", "warning", "error")
"""Bottom to top: the quiet levels below, failures on top where the eye lands."""
MAX_BARS = 400


@dataclass(frozen=True, slots=True)
class Segment:
    level: str
    count: int
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class Bar:
    day: date
    days: int
    x: float
    width: float
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    bars: tuple[Bar, ...]
    totals: dict[Level, int]
    peak: int
    failures: int = 0
    """Events that failed as the product counts them: a failing result (Garoon's FAILED,
    KDDI's ログインNG) or a warning or error level."""
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def ticks(self) -> list[Bar]:
        """A few bars to label along the axis."""
        if not self.bars:
            return []
        step = max(1, len(self.bars) // 4)
        picked = list(self.bars[::step])
        if picked[-1] is not self.bars[-1]:
            if len(picked) > 1 and self.bars.index(picked[-1]) > len(self.bars) - step / 2:
                picked.pop()
            picked.append(self.bars[-1])
        return picked


def build(
    moments: Iterable[tuple[str, str, bool]], first: date | None, last: date, tz: str
) -> Chart:
    """A chart of ``(occurred_at, level, failed)`` from ``first`` to ``last`` (local days;
    without ``first``, from the earliest event)."""
    zone = ZoneInfo(tz)
    counts: dict[date, dict[str, int]] = {}
    failures = 0
    for occurred, level, failed in moments:
        failures += failed or level in ("warning", "error")
        day = datetime.fromisoformat(occurred.replace("Z", "+00:00")).astimezone(zone).date()
        per_level = counts.setdefault(day, {})
        per_level[level] = per_level.get(level, 0) + 1
    start = first or (min(counts) if counts else last)
    span = (last - start).days + 1
    step = max(1, -(-span // MAX_BARS))
    buckets: list[tuple[date, dict[str, int]]] = []
    for offset in range(0, span, step):
        day = start + timedelta(days=offset)
        merged: dict[str, int] = {}
        for extra in range(step):
            for level, count in counts.get(day + timedelta(days=extra), {}).items():
                merged[level] = merged.get(level, 0) + count
        buckets.append((day, merged))
    peak = max((sum(c.values()) for _, c in buckets), default=0)
    slot = WIDTH / max(1, len(buckets))
    gap = min(2.0, slot * 0.25)
    bars = []
    for index, (day, per_level) in enumerate(buckets):
        bottom = float(HEIGHT)
        segments = []
        for level in STACK:
            count = per_level.get(level, 0)
            if not count:
                continue
            height = HEIGHT * count / peak
            bottom -= height
            segments.append(Segment(level, count, round(bottom, 2), round(height, 2)))
        bars.append(
            Bar(
                day,
                step,
                round(index * slot + gap / 2, 2),
                round(max(0.5, slot - gap), 2),
                sum(per_level.values()),
                tuple(segments),
            )
        )
    totals = {level: sum(c.get(level, 0) for _, c in buckets) for level in LEVELS}
    return Chart(tuple(bars), totals, peak, failures)
