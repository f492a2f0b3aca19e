"""The charts' geometry, from figures straight to shapes: what an admin sees of a hook's day."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_webhooks.domain.charts import (
    CHAR_WIDTH,
    COUNTS_BOTTOM,
    COUNTS_TOP,
    HOURS,
    MIN_VISIBLE,
    SPARK_HEIGHT,
    HourStat,
    by_hook,
    count_label,
    day_chart,
    day_of,
    epoch_hour,
    ms_label,
    nice_step,
    path,
    sparkline,
    window,
)

NOW = dt.datetime(2026, 12, 2, 13, 41, 7)
ROOM = COUNTS_BOTTOM - COUNTS_TOP
START = dt.datetime(2026, 12, 1, 14, 0)


def day(**by_hour: dict) -> tuple[HourStat, ...]:
    """24 quiet hours from START, but ``h<i>=dict(...)`` for hour i."""
    return tuple(HourStat(START + dt.timedelta(hours=i), **by_hour.get(f"h{i}", {})) for i in range(HOURS))


def bar_heights(chart, outcome: str) -> dict[int, float]:
    return {i: s.height for i, c in enumerate(chart.columns) for s in c.segments if s.outcome == outcome}


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (NOW, START, dt.datetime(2026, 12, 2, 14, 0)),
        (dt.datetime(2026, 12, 2, 14, 0), dt.datetime(2026, 12, 1, 15, 0), dt.datetime(2026, 12, 2, 15, 0)),
        # A zone-aware now is the same instant in UTC: São Paulo's 10:41 is 13:41 UTC.
        (
            NOW.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-3))),
            START,
            dt.datetime(2026, 12, 2, 14, 0),
        ),
    ],
)
def test_the_window_is_the_current_utc_hour_and_the_23_before(now, start, end) -> None:
    assert window(now) == (start, end)


def test_an_empty_day_has_no_bars_no_lines_and_one_zero_tick() -> None:
    chart = day_chart(day())
    assert all(c.segments == () for c in chart.columns)
    assert chart.p50 == chart.p95 == () and not chart.timed
    assert [t.label for t in chart.count_ticks] == ["0"]
    assert chart.totals.total == 0
    assert sparkline(day()).segments == ()


def test_one_failure_among_many_successes_still_shows() -> None:
    chart = day_chart(day(h5={"succeeded": 1_000_000}, h6={"succeeded": 999_999, "failed": 1}))
    failed = bar_heights(chart, "failed")
    assert list(failed) == [6] and failed[6] >= MIN_VISIBLE
    # The bar keeps its height: what the failure took came from the successes, and nothing leaves the panel.
    six = chart.columns[6].segments
    assert min(s.y for s in six) >= COUNTS_TOP - 1e-9
    assert sum(s.height for s in six) == pytest.approx(ROOM)
    assert chart.totals.failed == 1 and chart.totals.succeeded == 1_999_999


def test_an_hour_of_failures_only_is_a_full_red_bar() -> None:
    chart = day_chart(day(h0={"failed": 7}, h23={"failed": 3}))
    assert bar_heights(chart, "succeeded") == {}
    assert bar_heights(chart, "failed") == {
        0: pytest.approx(7 / 8 * ROOM),
        23: pytest.approx(3 / 8 * ROOM),
    }
    assert [t.label for t in chart.count_ticks] == ["0", "2", "4", "6", "8"]


def test_bars_stack_succeeded_then_failed_then_pending_from_the_axis_up() -> None:
    chart = day_chart(day(h3={"succeeded": 6, "failed": 2, "pending": 2}))
    segments = chart.columns[3].segments
    assert [s.outcome for s in segments] == ["succeeded", "failed", "pending"]
    assert segments[0].y + segments[0].height == pytest.approx(COUNTS_BOTTOM)
    assert segments[1].y + segments[1].height == pytest.approx(segments[0].y)
    assert [s.height for s in segments] == pytest.approx([6 / 10 * ROOM, 2 / 10 * ROOM, 2 / 10 * ROOM])


@pytest.mark.parametrize(
    ("most", "labels"),
    [
        (1, ["0", "1"]),
        (7, ["0", "2", "4", "6", "8"]),
        (130, ["0", "50", "100", "150"]),
        (48_000, ["0", "20k", "40k", "60k"]),
        (3_500_000, ["0", "1M", "2M", "3M", "4M"]),
        (2_000_000_000, ["0", "500M", "1000M", "1500M", "2000M"]),
    ],
)
def test_count_ticks_are_round_and_short_whatever_the_traffic(most: int, labels: list[str]) -> None:
    chart = day_chart(day(h12={"succeeded": most}))
    assert [t.label for t in chart.count_ticks] == labels
    assert chart.count_ticks[0].at == COUNTS_BOTTOM and chart.count_ticks[-1].at == COUNTS_TOP
    # The widest label gets its room: the plot starts right of it.
    assert chart.left >= 4 + CHAR_WIDTH * max(len(t.label) for t in chart.count_ticks)


def test_bars_sit_in_24_equal_slots_and_hours_are_labelled_every_three_in_utc() -> None:
    chart = day_chart(day())
    slots = [c.width for c in chart.columns]
    assert len(slots) == HOURS and max(slots) == pytest.approx(min(slots))
    assert chart.columns[0].x == chart.left and chart.columns[-1].x + slots[-1] == pytest.approx(chart.right)
    assert [t.label for t in chart.hour_ticks] == [
        "15:00",
        "18:00",
        "21:00",
        "00:00",
        "03:00",
        "06:00",
        "09:00",
        "12:00",
    ]
    assert chart.start == START and chart.end == START + dt.timedelta(hours=24)


def test_durations_draw_a_line_per_run_of_hours_with_attempts() -> None:
    chart = day_chart(
        day(
            h0={"succeeded": 1, "p50_ms": 80, "p95_ms": 400},
            h1={"succeeded": 1, "p50_ms": 120, "p95_ms": 1800},
            h5={"failed": 1, "p50_ms": 30, "p95_ms": 30},
        )
    )
    assert [len(run) for run in chart.p95] == [2, 1]  # hours 2 to 4 had no attempt: the line breaks
    assert [t.label for t in chart.time_ticks] == ["0 ms", "1 s", "2 s"]
    assert path(chart.p95[0]).startswith("M") and " L" in path(chart.p95[0])
    slowest = min(p.y for run in chart.p95 for p in run)
    assert slowest > chart.times_top  # 1800 ms under the 2 s tick
    assert chart.p50[0][0].x == pytest.approx(chart.columns[0].x + chart.columns[0].width / 2)


@pytest.mark.parametrize(("value", "label"), [(0, "0 ms"), (500, "500 ms"), (1500, "1500 ms"), (3000, "3 s")])
def test_duration_labels(value: float, label: str) -> None:
    assert ms_label(value) == label


@pytest.mark.parametrize(
    ("top", "ticks", "step"), [(7, 4, 2), (10, 4, 5), (0.3, 2, 1), (2_500_000_000, 4, 1_000_000_000)]
)
def test_steps_are_one_two_or_five_times_a_power_of_ten(top, ticks, step) -> None:
    assert nice_step(top, ticks) == step


def test_count_labels_never_need_a_decimal_separator() -> None:
    assert [count_label(n) for n in (0, 1500, 10_000, 12_500, 2_000_000)] == ["0", "1500", "10k", "12500", "2M"]


def test_rows_at_the_window_edges_land_in_the_first_and_last_hour_and_others_are_left_out() -> None:
    first = epoch_hour(START)
    rows = [
        (first - 1, "failed", 9),  # the hour before the window
        (first, "failed", 2),
        (first + 23, "succeeded", 4),
        (first + 24, "succeeded", 9),  # a clock that ran ahead
        (first + 3, "exploded", 9),  # an outcome the chart does not know
    ]
    stats = day_of(START, rows, [(first + 23, 12.5, 40.0), (first + 24, 1.0, 1.0)])
    assert [(i, s.failed, s.succeeded) for i, s in enumerate(stats) if s.total] == [(0, 2, 0), (23, 0, 4)]
    assert stats[23].hour == START + dt.timedelta(hours=23)
    assert (stats[23].p50_ms, stats[23].p95_ms) == (12.5, 40.0)
    assert sum(s.p50_ms is not None for s in stats) == 1


def test_the_epoch_hour_is_utc() -> None:
    assert epoch_hour(dt.datetime(1970, 1, 1, 0, 59)) == 0
    assert epoch_hour(dt.datetime(1970, 1, 2, 1, 0)) == 25


def test_the_list_gets_every_hook_asked_for_even_a_silent_one() -> None:
    first = epoch_hour(START)
    found = by_hook(START, [(1, first + 2, "failed", 1), (9, first, "failed", 1)], [1, 2])
    assert set(found) == {1, 2}
    assert [s.failed for s in found[1]][:3] == [0, 0, 1] and sum(s.total for s in found[2]) == 0


def test_a_sparkline_scales_to_its_own_busiest_hour_and_shows_a_lone_failure() -> None:
    spark = sparkline(day(h0={"succeeded": 50_000}, h23={"succeeded": 10, "failed": 1}))
    tallest = max(s.height for s in spark.segments)
    assert tallest == pytest.approx(SPARK_HEIGHT)
    failed = [s for s in spark.segments if s.outcome == "failed"]
    assert len(failed) == 1 and failed[0].height >= MIN_VISIBLE and failed[0].x > spark.width * 0.9
    assert spark.totals.failed == 1


def test_a_day_chart_takes_exactly_24_hours() -> None:
    with pytest.raises(ValueError, match="24 hours"):
        day_chart(day()[:23])
