"""Which operational event a hook's recorded outcome raises: the whole rule, as a table."""

from __future__ import annotations

import pytest

from crm_webhooks.domain.event_patterns import codes_of, validate_events
from crm_webhooks.domain.operational import DISABLED, FAILING, RECOVERED, Outcome, raised, warn_after
from crm_webhooks.domain.options import Options
from crm_webhooks.exceptions import ValidationError


@pytest.mark.parametrize(
    ("disable_after", "share", "warn_at"),
    [
        (5, 0.5, 3),  # half of 5 is 2.5: rounded up
        (4, 0.5, 2),
        (10, 0.3, 3),  # as written: the binary float of this share times 10 lies a hair above the whole
        (1, 0.5, 1),
        (5, 0.0, 1),  # at least one failure
        (5, 1.0, 5),  # with the disable itself
        (None, 0.5, None),  # never disabled: nothing to warn of
    ],
)
def test_the_warning_comes_at_a_share_of_the_failures_that_disable(disable_after, share, warn_at) -> None:
    assert warn_after(disable_after, share) == warn_at
    assert Options.parse(disable_after_failures=disable_after, warn_at_share=share).warn_after_failures == warn_at


@pytest.mark.parametrize("share", [-0.1, 1.5, "half", True, float("nan")])
def test_a_share_is_a_number_from_0_to_1(share) -> None:
    with pytest.raises(ValidationError, match="warn_at_share"):
        Options.parse(warn_at_share=share)


def test_by_default_the_warning_comes_at_half() -> None:
    assert Options().warn_after_failures == 3  # of 5


WARN_AT = 3
CASES = [
    # (succeeded, failures now, disabled by the batch, owed before) -> (events, owed after)
    pytest.param(False, 1, None, False, (), False, id="a first failure warns of nothing"),
    pytest.param(False, 2, None, False, (), False, id="below the share"),
    pytest.param(False, 3, None, False, (FAILING,), True, id="the share reached warns"),
    pytest.param(False, 4, None, True, (), True, id="once per streak"),
    pytest.param(False, 7, None, False, (FAILING,), True, id="a batch jumping past the share warns once"),
    pytest.param(False, 5, "failures:5", True, (DISABLED,), True, id="disabled after the warning"),
    pytest.param(False, 5, "failures:5", False, (FAILING, DISABLED), True, id="warned and disabled at once"),
    pytest.param(False, 0, "gone", False, (DISABLED,), True, id="disabled by a 410 Gone"),
    pytest.param(True, 0, None, True, (RECOVERED,), False, id="the first success after the warning"),
    pytest.param(True, 0, None, False, (), False, id="a success with nothing owed"),
    pytest.param(True, 3, None, True, (RECOVERED, FAILING), True, id="recovered then a new streak in one batch"),
    pytest.param(True, 1, None, True, (RECOVERED,), False, id="recovered, one failure after"),
    pytest.param(False, 0, None, True, (), True, id="owed survives an enable that zeroed the count"),
]


@pytest.mark.parametrize(("succeeded", "failures", "disabled", "owed", "events", "owed_after"), CASES)
def test_which_operational_event_an_outcome_raises(succeeded, failures, disabled, owed, events, owed_after) -> None:
    outcome = Outcome(succeeded=succeeded, failures=failures, disabled=disabled, owed=owed)
    assert raised(outcome, WARN_AT) == (events, owed_after)


@pytest.mark.parametrize(
    ("failures", "disabled", "events"),
    [(40, None, ()), (0, "gone", (DISABLED,))],
    ids=["never disabled: never warned", "a 410 still disables"],
)
def test_hooks_never_disabled_are_never_warned_about(failures, disabled, events) -> None:
    assert raised(Outcome(succeeded=False, failures=failures, disabled=disabled, owed=False), None)[0] == events


@pytest.mark.parametrize(
    ("pattern", "codes"),
    [
        ("webhook.*", ("webhook.failing", "webhook.disabled", "webhook.recovered")),
        ("webhook.failing", ("webhook.failing",)),
        ("*.created", ("lead.created", "client.created", "opportunity.created", "quote.created", "sale.created")),
    ],
)
def test_webhook_patterns_stand_for_the_operational_events(pattern, codes) -> None:
    assert codes_of(pattern) == codes


def test_every_event_means_the_crms_only() -> None:
    assert len(codes_of("*")) == 30 and not any(code.startswith("webhook.") for code in codes_of("*"))


@pytest.mark.parametrize("pattern", ["*.failing", "*.disabled", "*.recovered"])
def test_no_starred_entity_reaches_the_operational_events(pattern) -> None:
    with pytest.raises(ValidationError, match="no event ends in"):
        validate_events([pattern])
