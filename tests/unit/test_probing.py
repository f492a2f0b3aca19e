"""When a disabled hook is due a probe (a test send that enables it when answered): the rule, as a table."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_webhooks.domain.options import Options
from crm_webhooks.domain.probing import probe_due
from crm_webhooks.exceptions import ValidationError

NOW = dt.datetime(2026, 12, 3, 3, 0)
EVERY = dt.timedelta(minutes=15)


def ago(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("reason", "disabled_at", "probed_at", "due"),
    [
        ("failures:5", ago(15), None, True),  # an interval after it was disabled
        ("failures:5", ago(14), None, False),  # not before
        ("failures:5", ago(60), ago(15), True),  # an interval after its last probe
        ("failures:5", ago(60), ago(5), False),  # probed lately: it waits another interval
        ("failures:5", ago(5), ago(60), False),  # disabled again since a probe long ago: from the disable
        ("failures:5", None, None, True),  # disabled before its time was kept
        ("failures:1000000", ago(20), None, True),
        ("admin", ago(600), None, False),  # an admin chose to stop it
        (None, ago(600), None, False),  # the same, as stored before reasons had codes
        ("gone", ago(600), None, False),  # its receiver said 410 Gone: gone for good
        ("created", ago(600), None, False),  # created disabled
        ("disabled automatically after 5 failed deliveries in a row", ago(600), None, False),  # not a code
    ],
)
def test_only_a_hook_disabled_for_its_failures_is_probed_once_an_interval(reason, disabled_at, probed_at, due) -> None:
    assert probe_due(reason, disabled_at, probed_at, now=NOW, every=EVERY) is due


@pytest.mark.parametrize(
    ("given", "minutes"),
    [
        ({}, None),
        ({"probe_disabled_every": None}, None),
        ({"probe_disabled_every": 15}, 15.0),
        ({"probe_disabled_every": 0.01}, 0.01),
    ],
)
def test_probing_is_off_unless_an_interval_is_given(given, minutes) -> None:
    assert Options.parse(**given).probe_disabled_every == minutes


@pytest.mark.parametrize("minutes", [0, -5, 0.001, 7 * 24 * 60 + 1, float("inf"), float("nan"), "15", True])
def test_the_interval_is_a_number_of_minutes_up_to_a_week(minutes) -> None:
    with pytest.raises(ValidationError, match="probe_disabled_every") as raised:
        Options.parse(probe_disabled_every=minutes)
    assert "from 0.01 to 10080" in str(raised.value)
