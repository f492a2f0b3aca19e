"""Enabling a hook through the API after an outage: the counts first (read scope), then one call that
enables and, when asked, sends again what failed; the answers match the OpenAPI document."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)


def test_the_counts_then_enable_with_the_failed_sent_again(
    api, webhooks, webhook_receiver, disabled_in_outage, schema_validator
) -> None:
    url = f"/api/v1/hooks/{disabled_in_outage.id}/enable"
    counts = api.call("GET", url, token=api.token("webhooks:read"))
    assert counts.status_code == 200
    schema_validator("#/components/schemas/Recovery").validate(counts.json)
    since = webhooks.preview_enable_hook(disabled_in_outage.id).failing_since
    assert counts.json["failing_since"] == since.isoformat(timespec="milliseconds") + "Z"
    assert {k: counts.json[k] for k in ("enabled", "held", "failed", "replayed", "left")} == {
        "enabled": False,
        "held": 1,
        "failed": 3,
        "replayed": 0,
        "left": 0,
    }
    done = api.call("POST", url, json={"replay_failed": True})
    assert done.status_code == 200
    schema_validator("#/components/schemas/EnabledHook").validate(done.json)
    assert done.json["enabled"] is True and done.json["id"] == disabled_in_outage.id  # the hook's JSON, as before
    queued = done.json["queued"]
    assert (queued["held"], queued["replayed"], len(queued["replay_ids"])) == (1, 3, 3)
    webhooks.run_pending()
    assert [e["data"]["object"]["name"] for e in webhook_receiver.envelopes] == ["D", "A", "B", "C"]


@pytest.mark.parametrize(("kwargs", "replayed"), [({}, 0), ({"json": {}}, 0), ({"json": {"replay_failed": False}}, 0)])
def test_without_asking_only_the_held_go(api, webhooks, disabled_in_outage, kwargs, replayed) -> None:
    done = api.call("POST", f"/api/v1/hooks/{disabled_in_outage.id}/enable", **kwargs)
    assert done.status_code == 200 and done.json["queued"]["replayed"] == replayed
    assert webhooks.preview_redeliver_failed(disabled_in_outage.id).count == 3


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"replay_failed": "yes"}, 422, "replay_failed"),
        ({"replay_failed": 1}, 422, "replay_failed"),
        ({"replay": True}, 422, "replay"),
        ([True], 400, "body"),
    ],
)
def test_a_wrong_body_enables_nothing(api, webhooks, disabled_in_outage, payload, status, field) -> None:
    response = api.call("POST", f"/api/v1/hooks/{disabled_in_outage.id}/enable", json=payload)
    assert response.status_code == status and response.json["error"]["field"] == field
    assert webhooks.get_hook(disabled_in_outage.id).enabled is False


def test_scopes_and_unknown_hooks(api, disabled_in_outage) -> None:
    url = f"/api/v1/hooks/{disabled_in_outage.id}/enable"
    assert api.call("GET", url, token=api.token("webhooks:write")).status_code == 403
    assert api.call("POST", url, token=api.token("webhooks:read")).status_code == 403
    assert api.call("GET", "/api/v1/hooks/999/enable").status_code == 404
