"""The last 24 hours of a hook, as shapes: the geometry of its chart and of its sparkline.

Pure: the figures go in (per-hour counts and durations, already fetched), and
positions come out in SVG user units; the templates only draw them and put the
words in the page's language.  Hours are clock hours in UTC, the zone of every
time the pages show: the window is the current hour and the 23 before it.

A count that is not zero is never drawn thinner than ``MIN_VISIBLE``: one failure
among a million successes must still show.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

HOURS = 24
OUTCOMES = ("succeeded", "failed", "pending")  # bottom to top in a stacked bar
MIN_VISIBLE = 1.5

# The chart's frame, in user units; the SVG scales to its container (viewBox).  Narrow
# enough that its labels stay readable on a 390 px phone, where crm.css sets them at
# 12.5 units (about 10 px there) instead of 10.5.
WIDTH = 400.0
COUNTS_TOP, COUNTS_BOTTOM = 8.0, 118.0
TIMES_TOP, TIMES_BOTTOM = 146.0, 190.0
HEIGHT = 210.0
RIGHT_MARGIN = 6.0
CHAR_WIDTH = 7.0  # of a 12.5-unit label; reserves room for the widest tick label
HOUR_LABEL_EVERY = 3

SPARK_WIDTH, SPARK_HEIGHT = 96.0, 22.0


@dataclass(frozen=True)
class HourStat:
    """One clock hour of one hook: its deliveries by outcome and how long their attempts took."""

    hour: dt.datetime  # the hour's start, naive UTC
    succeeded: int = 0
    failed: int = 0
    pending: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.pending

    def count(self, outcome: str) -> int:
        return int(getattr(self, outcome))


@dataclass(frozen=True)
class Totals:
    succeeded: int
    failed: int
    pending: int

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.pending


@dataclass(frozen=True)
class Segment:
    outcome: str
    x: float
    y: float
    width: float
    height: float
    count: int


@dataclass(frozen=True)
class Column:
    """One hour's stacked bar; ``x``/``width`` span the whole slot (for its tooltip)."""

    stat: HourStat
    x: float
    width: float
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Tick:
    at: float  # x for hour ticks, y for value ticks
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class DayChart:
    width: ClassVar[float] = WIDTH
    height: ClassVar[float] = HEIGHT
    counts_top: ClassVar[float] = COUNTS_TOP
    counts_bottom: ClassVar[float] = COUNTS_BOTTOM
    times_top: ClassVar[float] = TIMES_TOP
    times_bottom: ClassVar[float] = TIMES_BOTTOM
    left: float
    right: float
    columns: tuple[Column, ...]
    count_ticks: tuple[Tick, ...]
    time_ticks: tuple[Tick, ...]
    hour_ticks: tuple[Tick, ...]
    p50: tuple[tuple[Point, ...], ...]  # runs of consecutive hours that had attempts
    p95: tuple[tuple[Point, ...], ...]
    totals: Totals
    start: dt.datetime
    end: dt.datetime

    @property
    def timed(self) -> bool:
        return any(self.p50) or any(self.p95)


@dataclass(frozen=True)
class Sparkline:
    width: float
    height: float
    segments: tuple[Segment, ...]
    totals: Totals


# -- the window -----------------------------------------------------------------------


def window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of the 24 clock hours ending with the current one, naive UTC."""
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    end = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return end - dt.timedelta(hours=HOURS), end


def epoch_hour(moment: dt.datetime) -> int:
    """Whole hours since 1970 of a naive UTC time: how the queries name an hour."""
    return math.floor(moment.replace(tzinfo=dt.UTC).timestamp() / 3600)


def day_of(
    start: dt.datetime,
    counts: Iterable[tuple[int, str, int]],
    durations: Iterable[tuple[int, float | None, float | None]] = (),
) -> tuple[HourStat, ...]:
    """The 24 hours from ``start``, from ``(epoch hour, outcome, count)`` and ``(epoch hour, p50, p95)`` rows.

    Hours outside the window and outcomes not charted are left out, so a row from a
    clock that ran ahead cannot push the chart sideways.
    """
    first = epoch_hour(start)
    tallies: list[dict[str, int]] = [dict.fromkeys(OUTCOMES, 0) for _ in range(HOURS)]
    for hour, outcome, n in counts:
        if 0 <= hour - first < HOURS and outcome in OUTCOMES:
            tallies[hour - first][outcome] += int(n)
    timings: dict[int, tuple[float | None, float | None]] = {}
    for hour, p50, p95 in durations:
        if 0 <= hour - first < HOURS:
            timings[hour - first] = (p50, p95)
    return tuple(
        HourStat(
            start + dt.timedelta(hours=i),
            **tallies[i],
            p50_ms=timings.get(i, (None, None))[0],
            p95_ms=timings.get(i, (None, None))[1],
        )
        for i in range(HOURS)
    )


def totals(stats: Sequence[HourStat]) -> Totals:
    return Totals(*(sum(s.count(outcome) for s in stats) for outcome in OUTCOMES))


# -- scales -----------------------------------------------------------------------------


def nice_step(top: float, ticks: int, *, least: float = 1.0) -> float:
    """A 1, 2 or 5 times a power of ten step that covers ``top`` in about ``ticks`` steps."""
    raw = max(top / max(ticks, 1), least)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw - 1e-9 * raw:
            return max(factor * power, least)
    return 10 * power  # pragma: no cover - the loop always returns


def count_label(value: float) -> str:
    """Locale-neutral and short: 500, 2500, 40k, 3M (no decimal separator to translate)."""
    n = round(value)
    if n and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 10_000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def ms_label(value: float) -> str:
    n = round(value)
    return f"{n // 1000} s" if n >= 1000 and n % 1000 == 0 else f"{n} ms"


def _value_ticks(top: float, bottom: float, step: float, steps: int, label) -> tuple[tuple[Tick, ...], float]:
    """Ticks from 0 to ``step * steps`` placed between ``bottom`` (0) and ``top``; and the scale's maximum."""
    peak = step * steps
    return tuple(Tick(bottom - (bottom - top) * i / steps, label(step * i)) for i in range(steps + 1)), peak


def _count_scale(most: int) -> tuple[tuple[Tick, ...], float]:
    if most <= 0:
        return (Tick(COUNTS_BOTTOM, "0"),), 1.0
    step = nice_step(most, 4)
    return _value_ticks(COUNTS_TOP, COUNTS_BOTTOM, step, max(1, math.ceil(most / step - 1e-9)), count_label)


def _time_scale(slowest: float) -> tuple[tuple[Tick, ...], float]:
    if slowest <= 0:
        return (Tick(TIMES_BOTTOM, ms_label(0)),), 1.0
    step = nice_step(slowest, 2)
    return _value_ticks(TIMES_TOP, TIMES_BOTTOM, step, max(1, math.ceil(slowest / step - 1e-9)), ms_label)


def _stack(stat: HourStat, x: float, width: float, bottom: float, top: float, peak: float) -> tuple[Segment, ...]:
    """The hour's outcomes stacked from ``bottom`` up, each at least ``MIN_VISIBLE`` tall.

    What the thin ones gain is taken from the tallest, so the bar keeps its height.
    """
    shown = [(outcome, stat.count(outcome)) for outcome in OUTCOMES if stat.count(outcome) > 0]
    if not shown:
        return ()
    room = bottom - top
    heights = [max(room * n / peak, MIN_VISIBLE) for _, n in shown]
    excess = sum(heights) - max(room * stat.total / peak, MIN_VISIBLE * len(shown))
    tallest = heights.index(max(heights))
    heights[tallest] = max(heights[tallest] - excess, MIN_VISIBLE)
    segments = []
    y = bottom
    for (outcome, n), height in zip(shown, heights, strict=True):
        y -= height
        segments.append(Segment(outcome, x, y, width, height, n))
    return tuple(segments)


def _runs(stats: Sequence[HourStat], field: str, xs: Sequence[float], bottom: float, top: float, peak: float):
    runs: list[tuple[Point, ...]] = []
    current: list[Point] = []
    for stat, x in zip(stats, xs, strict=True):
        value = getattr(stat, field)
        if value is None:
            if current:
                runs.append(tuple(current))
            current = []
            continue
        current.append(Point(x, bottom - (bottom - top) * min(max(value, 0.0), peak) / peak))
    if current:
        runs.append(tuple(current))
    return tuple(runs)


# -- the shapes -------------------------------------------------------------------------


def day_chart(stats: Sequence[HourStat]) -> DayChart:
    """The hook page's chart: stacked bars of outcomes per hour above p50/p95 lines, one hour axis."""
    if len(stats) != HOURS:
        raise ValueError(f"a day chart takes {HOURS} hours, not {len(stats)}")
    count_ticks, count_peak = _count_scale(max(s.total for s in stats))
    slowest = max((v for s in stats for v in (s.p50_ms, s.p95_ms) if v is not None), default=0.0)
    time_ticks, time_peak = _time_scale(slowest)
    widest = max(len(t.label) for t in (*count_ticks, *time_ticks))
    left = 4 + CHAR_WIDTH * widest + 6
    right = WIDTH - RIGHT_MARGIN
    slot = (right - left) / HOURS
    bar = slot * 0.72
    columns = []
    centres = []
    for i, stat in enumerate(stats):
        x = left + slot * i
        centres.append(x + slot / 2)
        segments = _stack(stat, x + (slot - bar) / 2, bar, COUNTS_BOTTOM, COUNTS_TOP, count_peak)
        columns.append(Column(stat, x, slot, segments))
    hour_ticks = tuple(
        Tick(centres[i], f"{stat.hour:%H}:00") for i, stat in enumerate(stats) if stat.hour.hour % HOUR_LABEL_EVERY == 0
    )
    return DayChart(
        left=left,
        right=right,
        columns=tuple(columns),
        count_ticks=count_ticks,
        time_ticks=time_ticks,
        hour_ticks=hour_ticks,
        p50=_runs(stats, "p50_ms", centres, TIMES_BOTTOM, TIMES_TOP, time_peak),
        p95=_runs(stats, "p95_ms", centres, TIMES_BOTTOM, TIMES_TOP, time_peak),
        totals=totals(stats),
        start=stats[0].hour,
        end=stats[-1].hour + dt.timedelta(hours=1),
    )


def sparkline(stats: Sequence[HourStat]) -> Sparkline:
    """The list's trend: 24 thin stacked bars scaled to the hook's own busiest hour."""
    peak = max((s.total for s in stats), default=0) or 1
    slot = SPARK_WIDTH / max(len(stats), 1)
    segments = tuple(
        segment
        for i, stat in enumerate(stats)
        for segment in _stack(stat, slot * i + 0.5, slot - 1.0, SPARK_HEIGHT, 0.0, peak)
    )
    return Sparkline(SPARK_WIDTH, SPARK_HEIGHT, segments, totals(stats))


def path(points: Sequence[Point]) -> str:
    """SVG path data through ``points``."""
    return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(points))


def by_hook(
    start: dt.datetime, rows: Iterable[tuple[int, int, str, int]], hook_ids: Iterable[int]
) -> Mapping[int, tuple[HourStat, ...]]:
    """``(hook id, epoch hour, outcome, count)`` rows as each hook's 24 hours (every hook asked for, even silent)."""
    grouped: dict[int, list[tuple[int, str, int]]] = {hook_id: [] for hook_id in hook_ids}
    for hook_id, hour, outcome, n in rows:
        if hook_id in grouped:
            grouped[hook_id].append((hour, outcome, n))
    return {hook_id: day_of(start, counts) for hook_id, counts in grouped.items()}
