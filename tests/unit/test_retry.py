"""The retry schedule as a pure function."""

import random
from datetime import datetime, timedelta

import pytest

from crm_webhooks.domain.options import DEFAULT_RETRY_DELAYS
from crm_webhooks.engine.retry import next_attempt_at, parse_retry_after

NOW = datetime(2026, 1, 1, 12, 0, 0)


@pytest.mark.parametrize(("failures", "expected"), [(1, 5), (2, 300), (3, 1800), (7, 36000)])
def test_default_schedule(failures: int, expected: float) -> None:
    assert next_attempt_at(failures, NOW, DEFAULT_RETRY_DELAYS) == NOW + timedelta(seconds=expected)


def test_default_schedule_spans_about_a_day() -> None:
    assert 20 * 3600 <= sum(DEFAULT_RETRY_DELAYS) <= 30 * 3600


@pytest.mark.parametrize("failures", [0, 8, 100])
def test_no_retry_outside_the_schedule(failures: int) -> None:
    assert next_attempt_at(failures, NOW, DEFAULT_RETRY_DELAYS) is None


def test_jitter_only_lengthens_and_stays_bounded() -> None:
    rand = random.Random(7)
    seen = [(next_attempt_at(1, NOW, [100], jitter=0.1, rand=rand) - NOW).total_seconds() for _ in range(200)]
    assert all(100 <= s < 110 for s in seen) and len(set(seen)) > 100


def test_retry_after_is_a_floor_capped_at_a_day() -> None:
    assert next_attempt_at(1, NOW, [5], retry_after=60) == NOW + timedelta(seconds=60)
    assert next_attempt_at(1, NOW, [500], retry_after=60) == NOW + timedelta(seconds=500)
    assert next_attempt_at(1, NOW, [5], retry_after=10**9) == NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Thu, 01 Jan 2026 12:01:00 GMT", 60.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_retry_after(header, seconds) -> None:
    assert parse_retry_after(header, NOW) == seconds
