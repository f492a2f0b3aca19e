"""`crm-webhooks hooks preview`: what a hook would send, from a terminal, sending nothing."""

from __future__ import annotations

import pytest

from crm_stub import CRM


@pytest.fixture
def lead_id(cli) -> int:
    """A lead in the CLI's database, created by a process that delivers nothing."""
    with CRM(cli.url, addon_options={"crm_webhooks": {"dispatcher": "none"}}) as crm:
        return crm.leads.create("João Ação").id


def test_preview_prints_the_verdict_the_request_and_the_body(cli, add_hook, lead_id, webhook_receiver) -> None:
    hook = add_hook("lead.created", condition="object.name != ''", **{"body-template": "{{ object.name }}"})
    cli("hooks", "update", str(hook["id"]), "--content-type", "text/plain")
    result = cli("hooks", "preview", str(hook["id"]), "--record", f"lead:{lead_id}")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("event: lead.created evt_") and lines[0].endswith(f"(lead:{lead_id})")
    assert "condition: true" in lines
    assert f"POST {webhook_receiver.url}" in lines
    assert "  X-Api-Key: a-lo…(19)" in lines and "a-long-secret-value" not in result.stdout
    assert lines[-2:] == ["body:", "João Ação"]
    shown = cli.json("hooks", "preview", str(hook["id"]), "--record", f"lead:{lead_id}")
    assert shown["request"]["body"] == "João Ação" and shown["condition"] == {"matches": True, "error": None}
    assert webhook_receiver.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--record", "lead"], "record: 'lead' is not entity:id, e.g. lead:42"),
        (["--event", "sale.created"], "event: sale.created is not one of this hook's events (lead.created)"),
        ([], "record: no event of this hook's events is stored yet: name a record, e.g. lead:42"),
    ],
    ids=["record", "event", "nothing stored"],
)
def test_bad_input_is_one_line(cli, add_hook, args, message) -> None:
    hook = add_hook("lead.created")
    result = cli("hooks", "preview", str(hook["id"]), *args)
    assert result.exit_code != 0
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
