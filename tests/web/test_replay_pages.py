"""The replay pages through Flask's test client: what a hand-edited URL or a tampered form gets.

The whole flow runs in a real browser (tests/browser/test_replay_pages.py);
here, each hostile input gets one clear answer, nothing is queued, and nothing
answers a 500.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)
BASE = "/system/integrations/webhooks"


@pytest.fixture
def failed_hook(webhooks, webhook_receiver, outage) -> Any:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    outage("A")
    return hook


def test_the_period_and_the_date_typed(admin, failed_hook) -> None:
    url = f"{BASE}/{failed_hook.id}/replay"
    default = admin.get(url + "?period=99y")  # unknown: the default, 24 hours
    assert default.status_code == 200 and "1 failed delivery since" in default.get_data(as_text=True)
    typed = admin.get(url + "?period=1h&from=2026-03-01T08:00").get_data(as_text=True)
    assert "since 2026-03-01 08:00:00 UTC" in typed  # the date wins, read as UTC
    wrong = admin.get(url + "?from=not-a-date")
    assert wrong.status_code == 422 and 'id="from-error"' in wrong.get_data(as_text=True)
    assert 'id="replay-confirm"' not in wrong.get_data(as_text=True)


@pytest.mark.parametrize("since", [None, "", "2x", "9999-99-99"])
def test_a_tampered_confirmation_queues_nothing(admin, webhooks, failed_hook, since) -> None:
    admin.get(f"{BASE}/{failed_hook.id}/replay")
    response = admin.post(f"{BASE}/{failed_hook.id}/replay", {} if since is None else {"since": since})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/{failed_hook.id}/replay")
    assert "Choose since when again." in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert len(webhooks.history(failed_hook.id)) == 1


def test_a_progress_url_no_replay_made_is_404(admin, webhooks, failed_hook) -> None:
    replay = webhooks.redeliver_failed(failed_hook.id)
    batch = replay.batch
    good = f"first={batch.first}&last={batch.last}&at={batch.queued_at.isoformat()}"
    assert admin.get(f"{BASE}/{failed_hook.id}/replay/progress?{good}").status_code == 200
    for query in [
        "",
        f"first=x&last={batch.last}&at={batch.queued_at.isoformat()}",
        f"first={batch.first}&last={batch.last}&at=yesterday",
        f"first={batch.first}&last={batch.last}&at={batch.queued_at.isoformat()}%2B02:00",
        f"first={batch.first}&last={2**70}&at={batch.queued_at.isoformat()}",
        f"first={batch.last + 1}&last={batch.last + 5}&at={batch.queued_at.isoformat()}",
    ]:
        assert admin.get(f"{BASE}/{failed_hook.id}/replay/progress?{query}").status_code == 404, query
    assert admin.get(f"{BASE}/{failed_hook.id + 1}/replay/progress?{good}").status_code == 404
    assert admin.get(f"{BASE}/{failed_hook.id + 1}/replay").status_code == 404


def test_sellers_may_not_replay(browser, webhooks, failed_hook) -> None:
    browser.login("seller@example.com")
    assert browser.get(f"{BASE}/{failed_hook.id}/replay").status_code == 403
    assert browser.post(f"{BASE}/{failed_hook.id}/replay", {"since": "2h"}).status_code == 403
    assert len(webhooks.history(failed_hook.id)) == 1
