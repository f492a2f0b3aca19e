"""Secret rotation: every secret signs until its own grace period ends, however often one rotates."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_webhooks import verify
from crm_webhooks.domain.secrets import grace_ends, retire, signing_secrets


def test_a_second_rotation_inside_the_grace_period_keeps_the_first_secret_signing(
    crm, webhooks, webhook_receiver
) -> None:
    a = webhooks.create_hook(name="rotated twice", event="lead.created", url=webhook_receiver.url)
    b = webhooks.rotate_secret(a.id)
    c = webhooks.rotate_secret(a.id)
    crm.leads.create("Signed with every live secret")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 3
    for hook in (a, b, c):  # a receiver still holding A, B or C verifies it
        verify(request.get_data(), dict(request.headers), hook.secret)
    # The last one retired signs the longest: that is when the rotation is over.
    assert c.previous_secret_expires_at is not None and b.previous_secret_expires_at is not None
    assert c.previous_secret_expires_at >= b.previous_secret_expires_at


T0 = dt.datetime(2026, 1, 1, 12, 0)
HOUR = dt.timedelta(hours=1)


def rotations(*at_hours: float, grace: dt.timedelta = 24 * HOUR) -> tuple[str, tuple[tuple[str, dt.datetime], ...]]:
    """Start with secret "A" and rotate at each given hour after T0 to "B", "C"...; the current and retired secrets."""
    current, retired = "A", ()
    for n, hours in enumerate(at_hours, start=1):
        retired = retire(current, retired, now=T0 + hours * HOUR, grace=grace)
        current = chr(ord("A") + n)
    return current, retired


@pytest.mark.parametrize(
    ("at_hours", "now_hours", "signing"),
    [
        ((), 0, ("A",)),
        ((0,), 23.9, ("B", "A")),  # A signs for its 24 h of grace
        ((0,), 24, ("B",)),  # and not a moment more
        ((0, 1), 1, ("C", "B", "A")),  # the bug: a second rotation dropped A at once
        ((0, 1), 23.9, ("C", "B", "A")),
        ((0, 1), 24, ("C", "B")),  # each ends with its own grace: A first
        ((0, 1), 25, ("C",)),
        ((0, 1, 2), 24.5, ("D", "C", "B")),
        ((0, 30), 30, ("C", "B")),  # A's grace was over before the second rotation: not kept
    ],
)
def test_each_secret_signs_until_its_own_grace_ends(at_hours, now_hours: float, signing: tuple[str, ...]) -> None:
    current, retired = rotations(*at_hours)
    assert signing_secrets(current, retired, T0 + now_hours * HOUR) == signing


def test_with_no_grace_a_rotation_retires_nothing() -> None:
    current, retired = rotations(0, grace=dt.timedelta(0))
    assert retired == () and signing_secrets(current, retired, T0) == ("B",)


@pytest.mark.parametrize(
    ("at_hours", "now_hours", "ends_hours"),
    [((), 0, None), ((0,), 1, 24), ((0, 5), 6, 29), ((0, 5), 29, None)],
)
def test_the_grace_ends_when_the_last_retired_secret_stops_signing(at_hours, now_hours, ends_hours) -> None:
    _, retired = rotations(*at_hours)
    expected = None if ends_hours is None else T0 + ends_hours * HOUR
    assert grace_ends(retired, T0 + now_hours * HOUR) == expected
