"""The retry schedule as a pure function."""

import random
from datetime import datetime, timedelta

import pytest

from crm_webhooks.domain.options import DEFAULT_RETRY_DELAYS
from crm_webhooks.engine.retry import next_attempt_at, next_try_in, parse_retry_after, releases_retries

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


# A worker started before its database: (failed tries so far, seconds of the wait left, pause before the next).
WAITING_FOR_THE_DATABASE = [
    (1, 60.0, 0.5),
    (2, 60.0, 1.0),
    (3, 60.0, 2.0),
    (5, 60.0, 8.0),
    (6, 60.0, 10.0),  # capped: a database back after a minute is found within seconds
    (40, 60.0, 10.0),
    (4, 1.5, 1.5),  # the last try falls at the end of the wait, not after it
    (1, 0.0, None),  # nothing left: give up
    (3, -0.2, None),  # a try that outlasted the wait
]


@pytest.mark.parametrize(("failures", "left", "pause"), WAITING_FOR_THE_DATABASE)
def test_a_database_not_there_yet_is_tried_again_sooner_then_later(failures, left, pause) -> None:
    assert next_try_in(failures, left) == pause


def test_the_pauses_before_a_database_fill_the_wait_and_no_more() -> None:
    left, pauses = 20.0, []
    while (pause := next_try_in(len(pauses) + 1, left)) is not None:
        pauses.append(pause)
        left -= pause
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 4.5]


OK, FAILED = True, False


@pytest.mark.parametrize(
    ("failing_before", "answers", "released"),
    [
        pytest.param(True, [OK], True, id="the first 2xx after an outage"),
        pytest.param(True, [FAILED, FAILED, OK], True, id="a 2xx after more failures"),
        pytest.param(False, [FAILED, OK], True, id="failed and answered again among one batch"),
        pytest.param(True, [OK, FAILED], True, id="a 2xx, then an attempt started earlier that timed out"),
        pytest.param(False, [OK], False, id="a healthy hook's success"),
        pytest.param(False, [OK, OK], False, id="a healthy hook's successes"),
        pytest.param(False, [OK, FAILED], False, id="a new failure is not a return"),
        pytest.param(True, [FAILED], False, id="still down"),
        pytest.param(True, [], False, id="no answer yet"),
    ],
)
def test_a_2xx_after_a_failure_releases_the_hooks_retries(failing_before, answers, released) -> None:
    assert releases_retries(failing_before, answers) is released
