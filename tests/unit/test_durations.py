"""``since`` as people type it (``2h``, ISO 8601), read one way by the CLI, the API and the page."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_webhooks import ValidationError
from crm_webhooks.domain.durations import parse_duration, parse_since
from crm_webhooks.domain.replay import selection

NOW = dt.datetime(2026, 3, 10, 12, 0, 0)


@pytest.mark.parametrize(
    ("typed", "moment"),
    [
        ("2h", dt.datetime(2026, 3, 10, 10, 0)),
        (" 30m ", dt.datetime(2026, 3, 10, 11, 30)),
        ("1.5d", dt.datetime(2026, 3, 9, 0, 0)),
        ("1w", dt.datetime(2026, 3, 3, 12, 0)),
        ("90s", dt.datetime(2026, 3, 10, 11, 58, 30)),
        ("2026-03-01", dt.datetime(2026, 3, 1)),
        ("2026-03-01T08:00:00Z", dt.datetime(2026, 3, 1, 8)),
        ("2026-03-01T08:00:00-03:00", dt.datetime(2026, 3, 1, 11)),  # to UTC
        ("2026-03-01 08:00", dt.datetime(2026, 3, 1, 8)),  # no zone: UTC
        (dt.datetime(2026, 3, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=1))), dt.datetime(2026, 3, 1, 7)),
    ],
)
def test_since_reads_durations_ago_and_iso_moments_as_utc(typed, moment) -> None:
    assert parse_since(typed, now=NOW) == moment


@pytest.mark.parametrize(
    "typed", ["2x", "yesterday", "", "h", "-2h", "2 hours", "2026-13-01", "99999999999w", "\u0662h", 5, None]
)
def test_anything_else_names_the_field(typed) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_since(typed, now=NOW)
    assert refused.value.field == "since"


def test_a_duration_alone_for_pruning() -> None:
    assert parse_duration("30d") == dt.timedelta(days=30)
    with pytest.raises(ValidationError, match="not a duration"):
        parse_duration("2026-01-01")


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"hook_id": "1"}, "hook_id"),
        ({"hook_id": True}, "hook_id"),
        ({"hook_id": 0}, "hook_id"),
        ({"hook_id": 1.0}, "hook_id"),
        ({"status": "pending"}, "status"),
        ({"status": None}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"since": "2x"}, "since"),
        ({"since": []}, "since"),
    ],
)
def test_a_replay_selection_names_each_bad_field(given, field) -> None:
    with pytest.raises(ValidationError) as refused:
        selection(**given, now=NOW)
    assert refused.value.field == field


def test_a_replay_selection_defaults_to_every_failed_one() -> None:
    chosen = selection(now=NOW)
    assert (chosen.hook_id, chosen.since, chosen.status, chosen.limit) == (None, None, "failed", 1000)
    assert selection(hook_id=3, since="1h", status="succeeded", limit=5, now=NOW).since == dt.datetime(2026, 3, 10, 11)


def test_a_huge_value_is_not_echoed_whole() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_since("x" * 1_000_000, now=NOW)
    assert len(str(refused.value)) < 200
